"""The command line: thin click commands over the library (see ``nbkit.cli.main``)."""
