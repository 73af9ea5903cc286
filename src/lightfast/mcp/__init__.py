"""The MCP server: a thin shell that exposes search and jobs to AI agents."""
