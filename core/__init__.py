"""What everything needs: the recruitment config, the clock, message and button types, the
texts (catalogs), formatting and validation. Imports nothing else of the project."""
