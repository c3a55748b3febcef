"""What git and pre-commit run: the commit hook, the clean filter, install and init."""
