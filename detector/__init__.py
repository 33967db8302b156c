"""Rules, models, the combined scorer, reports and the command line."""
