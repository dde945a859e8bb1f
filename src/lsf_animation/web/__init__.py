"""The browser viewer: a static page (three.js, shipped) and a loopback HTTP server."""
