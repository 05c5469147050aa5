package opensshd

import (
	"os"
	"testing"

	"github.com/psmux/psmux/testenv/reap"
)

func TestMain(m *testing.M) {
	reap.Main() // nothing the tests start outlives this binary
	os.Exit(m.Run())
}
