"""Running the suite: the run, the pytest glue, the event stream and the evidence. Imports
techval.validation, techval.core and the simulator's public entry points.
"""
