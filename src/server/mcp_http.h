// Routes of the memory agent features: core memory blocks under
// /api/core/... and the MCP Streamable HTTP endpoint /mcp (routes in
// memory_routes.cpp; the protocol itself is src/mcp's McpSession).
//
// /mcp: one endpoint. POST carries a JSON-RPC message and is answered with
// JSON, or with an SSE stream for tools/call when the client accepts one;
// notifications get 202 and no body. A supplied MCP-Protocol-Version header
// must name a supported revision (400 otherwise; none means 2025-03-26).
// GET and DELETE are 405: there are no server-initiated streams and no
// sessions. The API token is required and a foreign Origin is refused with
// 403 (checked in server.cpp before routing, see mcp_origin_allowed).
#pragma once

#include <string>
#include <vector>

#include "server/api.h"

namespace kioku::server {

std::vector<Route> memory_agent_routes();
// /api/me and the admin's /api/users routes (user_routes.cpp).
std::vector<Route> user_routes();

// An Origin may use /mcp when it is listed in [mcp] allowed_origins or is
// this server itself on a loopback name (http://127.0.0.1:PORT,
// http://localhost:PORT, http://[::1]:PORT).
bool mcp_origin_allowed(const std::string& origin, int server_port, const std::vector<std::string>& allowed);

}  // namespace kioku::server
