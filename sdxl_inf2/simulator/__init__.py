"""The fleet simulator: SageMaker async + Application Auto Scaling on traffic traces (`sdxl-inf2 simulate`).

A discrete-event model (SimPy) of the endpoint this project deploys: requests arrive from a trace,
wait in SageMaker's FIFO queue (with its TTL), run on the workers of in-service instances, and the
instance count follows the scaling policies that deploy/autoscaling.py builds, evaluated the way
CloudWatch and Application Auto Scaling evaluate them (one-minute datapoints, publication lag,
M-of-N alarms, cooldowns, the largest capacity wins). The metric math is deploy/metric_math.py's.

    traffic.py      trace specs -> arrival times (seeded)
    cloudwatch.py   one-minute datapoints, publication lag, queries, M-of-N alarms
    capacity.py     the scalable target: bounds, desired capacity, refused while the endpoint updates
    policies.py     target tracking, the step policy and scheduled actions, built from deploy's requests
    schedule.py     when a scheduled action fires (AWS cron/at/rate, with its time zone)
    endpoint.py     queue, instances, workers (one SimPy event per request)
    scenario.py     the fleet's constants, the workload, the policies from deploy's requests
    run.py          one policy over one scenario: the per-minute control loop
    report.py       per-policy figures, the table and the JSON
    plot.py         the PNG (matplotlib, Agg)
    cli.py          `sdxl-inf2 simulate`
    errors.py       SimulationError: bad input, one line
"""
