# Contract suite against a real coderd (issue 13).
#
# `make test` runs the suite (internal/coderapi/contracttest) against the
# fake coderd only. This target runs the same suite against a real
# deployment; the test is built only with the contractcoder tag, so it is
# never part of `make test`. See docs/coder-api.md.
#
#   CODERFLEET_CONTRACT_CODER_URL=https://coder.example.com \
#   CODERFLEET_CONTRACT_CODER_TOKEN=... make contract-coder

GO ?= go

.PHONY: contract-coder

## contract-coder: the Coder API contract suite against the coderd at
## CODERFLEET_CONTRACT_CODER_URL (an Owner's CODERFLEET_CONTRACT_CODER_TOKEN)
contract-coder:
	@test -n "$$CODERFLEET_CONTRACT_CODER_URL" -a -n "$$CODERFLEET_CONTRACT_CODER_TOKEN" || \
		{ echo "contract-coder: set CODERFLEET_CONTRACT_CODER_URL and CODERFLEET_CONTRACT_CODER_TOKEN (see docs/coder-api.md)" >&2; exit 2; }
	$(GO) test -tags contractcoder -count=1 -v -run '^TestContractCoder$$' ./internal/coderapi/
