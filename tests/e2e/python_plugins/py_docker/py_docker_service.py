# -*- coding: utf-8 -*-
"""A DockerService as the reference library writes them: an image, and
parse_line() turning the container's log lines into alerts."""
import re

from base_service import DockerService

LOGIN = re.compile(r"login from (?P<ip>\S+) as (?P<user>\S+)")


class PyDockerService(DockerService):
    @property
    def docker_image_name(self):
        return "example/honeypot:latest"

    @property
    def docker_params(self):
        return {"ports": {"22/tcp": 2222}}

    def parse_line(self, line):
        match = LOGIN.search(line)
        if not match:
            return None
        return {"event_type": "py_docker_login", "originating_ip": match.group("ip"),
                "username": match.group("user")}


service_class = PyDockerService
