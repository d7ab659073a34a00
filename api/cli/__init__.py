"""The `winkwatch` command line (typer). One module per command group."""
