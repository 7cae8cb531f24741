"""One screen per view: the dashboard, the session history and the help."""
