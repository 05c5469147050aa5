// Package failures holds end-to-end tests of psmux (built once per package
// by internal/e2e): what psmux says and does when hosts, keys, networks and servers fail.
package failures
