# robot_rl: the README's two commands are `make demo` and `make test`.
VENV := .venv/bin

.PHONY: setup demo test test-slow bench clean

setup:
	bash scripts/setup.sh

# Main job, end to end: train -> export -> held-out eval of the exported file ->
# deploy to the simulated quadrotor over a pty -> replay the flight log.
demo: setup
	$(VENV)/robot-rl train quadrotor-hover --out runs/demo
	$(VENV)/robot-rl export runs/demo/checkpoint.pt --out runs/demo --c
	$(VENV)/robot-rl eval runs/demo/policy.onnx --episodes 100
	$(VENV)/robot-rl deploy runs/demo/policy.onnx --robot sim://quadrotor --duration 20 \
		--log runs/demo/flight.mcap
	$(VENV)/robot-rl replay runs/demo/flight.mcap --plot runs/demo/flight.png

test: setup
	$(VENV)/python -m pytest -q

test-slow: setup
	$(VENV)/python -m pytest -q -m slow

bench: setup
	$(VENV)/python -m bench.sim_throughput
	$(VENV)/python -m bench.hover_time
	$(VENV)/python -m bench.policy_latency
	$(VENV)/python -m bench.loop_timing
	$(VENV)/python -m bench.firmware

clean:
	rm -rf runs .pytest_cache
