"""Building blocks of the sample-data generator (calendar, content, tickets, eval sets)."""
