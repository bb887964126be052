// JSON text of a stored or live event, shared by the WebSocket stream and
// the API: the normalised fields plus `raw`, the original record (embedded
// as is: it is already compact JSON).
#pragma once

#include "events/event.hpp"

#include <cstdint>
#include <string>

namespace honeycomb::core {

/// Appends `{"node_id":..,"id":..,"event_id":..,"received":"ISO","time":"ISO",..,"raw":{..}}`
/// with the API's keys (docs/API.md); empty fields and `id` 0 are omitted.
void append_event_json(std::string& out, const events::Event& e, std::int64_t id = 0);

}  // namespace honeycomb::core
