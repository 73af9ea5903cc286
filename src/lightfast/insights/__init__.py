"""Statistics over plain data (pure): percentiles, and later time series and health."""
