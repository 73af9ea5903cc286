"""Background work as durable jobs: records people can watch, workflows DBOS runs, cancel and retry."""
