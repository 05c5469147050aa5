// Package invoke holds end-to-end tests of psmux (built once per package
// by internal/e2e): psmux invoke against pwshsim and real pwsh over sshd and local processes.
package invoke
