"""Event monitoring and mobile telemetry with 24-hour attended monitoring: criteria, triage, queue policy,
coverage and period rules. Plain data and rules; the workflow stores enrolments, strips and the queue."""
