# The test command CI runs (.ci/run) and developers run: `make test`.
GO ?= go
SIM_SEEDS ?= 500

.PHONY: test vet unit sim fuzz demo

test: vet unit sim fuzz

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }

unit:
	$(GO) test -race -count=1 ./...

# The deterministic simulator: every seed under 20% loss, duplication,
# reordering and delay, checked for exactly-once FIFO delivery.
sim:
	$(GO) run ./cmd/conclave sim --seeds $(SIM_SEEDS) --members 3 --faults loss,dup,reorder,delay

fuzz:
	./scripts/fuzz.sh

demo:
	$(GO) run ./cmd/conclave demo
