# psmux recipes

# run psmux with arguments, e.g. `just run invoke --local -- 1+1`
run *ARGS:
    go run ./cmd/psmux {{ARGS}}

# the whole test suite
test:
    go vet ./...
    go test -count=1 ./...

# benchmarks; writes docs/BENCHMARKS.md
bench:
    go run ./internal/benchreport

# fuzz each decoder for FUZZTIME (default 60s)
fuzz FUZZTIME="60s":
    go test -run XXX -fuzz '^FuzzParsePacket$' -fuzztime {{FUZZTIME}} ./sessions/psrp/
    go test -run XXX -fuzz '^FuzzDefragment$' -fuzztime {{FUZZTIME}} ./sessions/psrp/
    go test -run XXX -fuzz '^FuzzMessages$' -fuzztime {{FUZZTIME}} ./sessions/psrp/
    go test -run XXX -fuzz '^FuzzDecode$' -fuzztime {{FUZZTIME}} ./sessions/clixml/
    go test -run XXX -fuzz '^FuzzCodec$' -fuzztime {{FUZZTIME}} ./mux/

# formatting and vet
lint:
    test -z "$(gofmt -l .)"
    go vet ./...

# fuzz the capture decoders too
fuzz-capture FUZZTIME="60s":
    go test -run XXX -fuzz '^FuzzDecodeOutOfProc$' -fuzztime {{FUZZTIME}} ./sessions/capture/
    go test -run XXX -fuzz '^FuzzDecodeFragments$' -fuzztime {{FUZZTIME}} ./sessions/capture/
    go test -run XXX -fuzz '^FuzzDecodeWSMan$' -fuzztime {{FUZZTIME}} ./sessions/capture/
