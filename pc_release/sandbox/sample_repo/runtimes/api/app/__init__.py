"""Platform-Control API runtime: platform role bindings and the admin audit log."""
