package cli_test

import (
	"testing"

	"github.com/psmux/psmux/internal/e2e"
)

func TestMain(m *testing.M) { e2e.Main(m) }
