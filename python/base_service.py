"""`from base_service import ServerCustomService` for Python Honeycomb plugins:
the same classes as honeycomb.servicemanager.base_service."""
from honeycomb.servicemanager.base_service import DockerService, ServerCustomService  # noqa: F401

__all__ = ["ServerCustomService", "DockerService"]
