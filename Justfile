# psmux recipes

# run psmux with arguments, e.g. `just run invoke --local -- 1+1`
run *ARGS:
    go run ./cmd/psmux {{ARGS}}

# the whole test suite
test:
    go vet ./...
    go test -count=1 ./...

# benchmarks (go test -bench; the end-to-end ones want sshd and real
# pwsh: `. ../shared/pwsh/env.sh` first); writes docs/BENCHMARKS.md
bench:
    go run ./internal/benchmd

# fuzz each decoder and what the remote side feeds for FUZZTIME (default
# 60s); a new input is minimized for 100 runs at most (the default of a
# minute per input stalled fuzzing for most of a short run)
fuzz FUZZTIME="60s":
    go test -run XXX -fuzz '^FuzzParsePacket$' -fuzztime {{FUZZTIME}} -fuzzminimizetime 100x ./sessions/psrp/
    go test -run XXX -fuzz '^FuzzDefragment$' -fuzztime {{FUZZTIME}} -fuzzminimizetime 100x ./sessions/psrp/
    go test -run XXX -fuzz '^FuzzMessages$' -fuzztime {{FUZZTIME}} -fuzzminimizetime 100x ./sessions/psrp/
    go test -run XXX -fuzz '^FuzzPoolReceive$' -fuzztime {{FUZZTIME}} -fuzzminimizetime 100x ./sessions/psrp/
    go test -run XXX -fuzz '^FuzzReader$' -fuzztime {{FUZZTIME}} -fuzzminimizetime 100x ./sessions/psrp/
    go test -run XXX -fuzz '^FuzzEncryptedSessionKey$' -fuzztime {{FUZZTIME}} -fuzzminimizetime 100x ./sessions/psrp/
    go test -run XXX -fuzz '^FuzzHostCall$' -fuzztime {{FUZZTIME}} -fuzzminimizetime 100x ./sessions/psrp/
    go test -run XXX -fuzz '^FuzzDecode$' -fuzztime {{FUZZTIME}} -fuzzminimizetime 100x ./sessions/clixml/
    go test -run XXX -fuzz '^FuzzCodec$' -fuzztime {{FUZZTIME}} -fuzzminimizetime 100x ./mux/
    go test -run XXX -fuzz '^FuzzEventFrame$' -fuzztime {{FUZZTIME}} -fuzzminimizetime 100x ./mux/
    go test -run XXX -fuzz '^FuzzDecodeEvent$' -fuzztime {{FUZZTIME}} -fuzzminimizetime 100x ./mux/
    go test -run XXX -fuzz '^FuzzServeConn$' -fuzztime {{FUZZTIME}} -fuzzminimizetime 100x ./mux/
    go test -run XXX -fuzz '^FuzzPromptParams$' -fuzztime {{FUZZTIME}} -fuzzminimizetime 100x ./mux/

# formatting and vet
lint:
    test -z "$(gofmt -l .)"
    go vet ./...

# fuzz the capture decoders too
fuzz-capture FUZZTIME="60s":
    go test -run XXX -fuzz '^FuzzDecodeOutOfProc$' -fuzztime {{FUZZTIME}} ./sessions/capture/
    go test -run XXX -fuzz '^FuzzDecodeFragments$' -fuzztime {{FUZZTIME}} ./sessions/capture/
    go test -run XXX -fuzz '^FuzzDecodeWSMan$' -fuzztime {{FUZZTIME}} ./sessions/capture/
