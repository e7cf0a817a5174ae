# The test command CI runs (.ci/run) and developers run: `make test`.
GO ?= go
SIM_SEEDS ?= 500
SIM_ALL_SEEDS ?= 1000
SIM_TOTAL_SEEDS ?= 300
SIM_SECURE_SEEDS ?= 500
SIM_AUTH_TOTAL_SEEDS ?= 100

.PHONY: test vet unit sim fuzz demo

test: vet unit sim fuzz

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }

# Go's default of ten minutes per test binary is too short on a machine
# loaded many times over its cores; CI bounds the whole run anyway.
unit:
	$(GO) test -race -count=1 -timeout 30m ./...

# The deterministic simulator. First the plain stack (--insecure): every
# seed under 20% loss, duplication, reordering and delay, checked for
# exactly-once FIFO delivery to every member; then every fault at once
# (crashes, partitions, joins, leaves on top of those), checked for agreed
# views, virtual synchrony, FIFO and exactly-once delivery, consent and
# convergence; then the same with total order; then under attack. Then the
# secured group (membership/secure, the default; every datagram sealed by
# encrypt, every Send by private) under network faults, under every fault,
# and under every fault and every attacker: outsiders with a key not on
# the allow list and with none, replays of sealed control messages,
# ex-members with every key they held (reading later data datagrams too),
# joiners reading what was sent before they joined, insiders forging
# others' Suspect and Leave, reading Sends between two others and forging
# them in the sender's name (the recipient must still deliver the real
# ones), recorded
# data datagrams sent again as recorded and altered (seeds sized to take
# about a minute and a half on two cores); these also check that every
# member of a view installed the same epoch, confirmed before any
# installed it, that no process holds an epoch of a view it is not in, and
# that no key and nonce is sealed twice. Then the same with sender
# authentication (sign above mnak), whose insiders also forge and alter
# other members' multicasts as their own retransmissions: it also checks
# that no multicast is delivered that its claimed sender did not multicast
# (a shorter active phase keeps it near a minute and a half on two cores:
# about 160 s of CPU), and that a member an insider's copy reached first
# still delivers the real message, which its sign layer refuses the copy
# for and fetches again; then the same under total order, where a message
# missed at one member would stall its order for the rest of the view
# (about 25 s of CPU). The last sweeps give every member
# the test participant (membership/membershiptest): each view change
# prepares a decision that every member confirms before any installs it,
# control messages are sealed, the group rekeys; they also check that each
# view is installed with the same decision at every member.
sim:
	$(GO) build -o bin/conclave ./cmd/conclave
	./bin/conclave sim --seeds $(SIM_SEEDS) --members 3 --faults loss,dup,reorder,delay --insecure
	./bin/conclave sim --seeds $(SIM_ALL_SEEDS) --members 5 --faults all --insecure
	./bin/conclave sim --seeds $(SIM_TOTAL_SEEDS) --members 5 --faults all --total --insecure
	./bin/conclave sim --seeds 150 --members 4 --faults all --attackers --insecure
	./bin/conclave sim --seeds $(SIM_SEEDS) --members 3 --faults loss,dup,reorder,delay
	./bin/conclave sim --seeds 300 --members 5 --faults all
	./bin/conclave sim --seeds $(SIM_SECURE_SEEDS) --members 4 --messages 20 --active 1.5s --faults all --attackers
	./bin/conclave sim --seeds $(SIM_SECURE_SEEDS) --members 4 --messages 20 --active 1s --faults all --sender-auth --attackers
	./bin/conclave sim --seeds $(SIM_AUTH_TOTAL_SEEDS) --members 4 --messages 20 --active 1s --faults all --total --sender-auth --attackers
	./bin/conclave sim --seeds $(SIM_SEEDS) --members 3 --faults loss,dup,reorder,delay --participant
	./bin/conclave sim --seeds 300 --members 5 --faults all --participant
	./bin/conclave sim --seeds 150 --members 4 --faults all --attackers --participant

fuzz:
	./scripts/fuzz.sh

demo:
	$(GO) run ./cmd/conclave demo
