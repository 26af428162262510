# robot_rl: the README's two commands are `make demo` and `make test`.
VENV := .venv/bin

.PHONY: setup demo test test-slow bench clean

setup:
	bash scripts/setup.sh

# Main job, end to end as far as the project goes today: train -> export -> held-out
# eval of the exported file through the deployment runtime.
demo: setup
	$(VENV)/robot-rl train quadrotor-hover --out runs/demo
	$(VENV)/robot-rl export runs/demo/checkpoint.pt --out runs/demo --c
	$(VENV)/robot-rl eval runs/demo/policy.onnx --episodes 100

test: setup
	$(VENV)/python -m pytest -q

test-slow: setup
	$(VENV)/python -m pytest -q -m slow

bench: setup
	$(VENV)/python -m bench.sim_throughput
	$(VENV)/python -m bench.hover_time
	$(VENV)/python -m bench.policy_latency

clean:
	rm -rf runs .pytest_cache
