# The two commands in the README: `make demo` (set up, run the main job) and `make test`.
# uv comes from the package registry when the machine lacks it; the lock file pins the rest.
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
SAMPLE := src/distillguard/data/sample
# Trust the system's certificate store, as pip and git here do, even when SSL_CERT_FILE is unset.
export UV_SYSTEM_CERTS ?= 1
DEMO := .demo

.PHONY: setup java redis demo console test lint typecheck bench schemas meaning clean

setup:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --locked --quiet

demo: setup
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	@# A labelled week of traffic: nine legitimate populations and three distillation campaigns.
	@$(UV) run distillguard simulate --scenario default --out $(DEMO)/sim
	@$(UV) run distillguard ingest $(DEMO)/sim/events --accounts $(DEMO)/sim/accounts.jsonl \
		--store $(DEMO)/store.duckdb
	@$(UV) run distillguard info --store $(DEMO)/store.duckdb
	@# Find the campaigns; replaying every 6 hours records when each account was first flagged.
	@$(UV) run distillguard scan --store $(DEMO)/store.duckdb --out $(DEMO)/results --replay 6h
	@# Score the scan against the ground truth, with two baselines at the same false-positive rate.
	@$(UV) run distillguard evaluate --results $(DEMO)/results --labels $(DEMO)/sim/labels.csv \
		--out $(DEMO)/evaluation
	@# The gateway in front of the mock model server: one account allowed, degraded, throttled and
	@# blocked as its verdict changes, and a campaign account refused on the scan's verdict. Its log
	@# goes into the same store, where the next scan sees what the gateway saw.
	@$(UV) run distillguard gateway-demo --results $(DEMO)/results --out $(DEMO)/gateway
	@$(UV) run distillguard ingest $(DEMO)/gateway/log --store $(DEMO)/store.duckdb -q
	@# Share what identifies the campaigns with a partner (STIX 2.1; payment methods, e-mail domains
	@# and account ids only as digests under a salt agreed with that partner: docs/intel.md).
	@head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > $(DEMO)/partner.salt
	@$(UV) run distillguard intel export --results $(DEMO)/results --all --tlp green \
		--salt-file $(DEMO)/partner.salt --producer "demo provider" --out $(DEMO)/partner-bundle.json
	@# The bundled sample holds two broken records on purpose: exit 3 (some quarantined) is expected.
	@$(UV) run distillguard ingest $(SAMPLE)/events.jsonl --accounts $(SAMPLE)/accounts.jsonl \
		--store $(DEMO)/sample.duckdb -q; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 3 ] || exit $$rc
	@echo "Report: $(DEMO)/results/report.html   Evaluation: $(DEMO)/evaluation/evaluation.html"
	@echo "Ground truth: $(DEMO)/sim/labels.csv   Refused sample records: $(DEMO)/sample.quarantine.jsonl"
	@echo "For partners: $(DEMO)/partner-bundle.json (STIX 2.1)"
	@# At a terminal, end on the analyst console (Ctrl-C stops it); elsewhere, say how to start it.
	@if [ -t 0 ] && [ -t 1 ]; then $(MAKE) --no-print-directory console; \
	else echo "Console: make console   (then open http://127.0.0.1:8050/ and log in with the token it prints)"; fi

console: setup
	$(UV) run distillguard console --results $(DEMO)/results \
		--verdicts $(DEMO)/gateway/log-manual-verdicts.json \
		$(if $(wildcard $(DEMO)/partner.salt),--salt-file $(DEMO)/partner.salt)

# The Spark engine's tests run a local Spark, which needs Java 17 or later: Debian's, when missing.
java:
	@command -v java >/dev/null 2>&1 || [ -x "$$JAVA_HOME/bin/java" ] || { \
		echo "installing Java 17 for the Spark engine (openjdk-17-jre-headless)"; \
		SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get install -y -q --no-install-recommends openjdk-17-jre-headless >/dev/null \
		|| { $$SUDO apt-get update -q >/dev/null && \
		     $$SUDO apt-get install -y -q --no-install-recommends openjdk-17-jre-headless >/dev/null; }; }

# The gateway's shared-state tests start a real Valkey or Redis server: Debian's, when missing.
redis:
	@command -v valkey-server >/dev/null 2>&1 || command -v redis-server >/dev/null 2>&1 || { \
		echo "installing a Redis server for the gateway's shared-state tests (redis-server)"; \
		SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get install -y -q --no-install-recommends redis-server >/dev/null \
		|| { $$SUDO apt-get update -q >/dev/null && \
		     $$SUDO apt-get install -y -q --no-install-recommends redis-server >/dev/null; }; }

lint: setup
	$(UV) run ruff check src tests bench
	$(UV) run ruff format --check src tests bench

typecheck: setup
	$(UV) run mypy

test: lint typecheck java redis
	$(UV) run pytest

bench: setup
	$(UV) run python bench/ingest.py
	$(UV) run python bench/simulate.py
	$(UV) run python bench/signals.py
	$(UV) run python bench/scan.py
	$(UV) run python bench/gateway.py
	$(UV) run python bench/countermeasures.py
	$(UV) run python bench/console.py
	$(UV) run python bench/signup.py
	$(UV) run python bench/partners.py

schemas: setup
	$(UV) run distillguard schema --out schemas

# Retrain the models by meaning and the topics on corpus/, rewrite the cross-source matrix (four
# minutes).
meaning: setup
	$(UV) run python -m distillguard.signals.meaning_train corpus/intent \
		--out src/distillguard/signals/rules/meaning.npz --report docs/meaning-matrix.md \
		--topics src/distillguard/signals/rules/topics.npz

clean:
	rm -rf $(DEMO) .pytest_cache .mypy_cache .ruff_cache
