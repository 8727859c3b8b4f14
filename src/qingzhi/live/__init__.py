"""Live: officers' positions and status, the event bus and the server-sent event stream."""
