package ssh

import "context"

// PromptKind says why the user is asked.
type PromptKind int

// Prompt kinds.
const (
	PromptPassword   PromptKind = iota // password authentication
	PromptPassphrase                   // an encrypted identity file
	PromptKeyboard                     // keyboard-interactive (2FA and the like)
	PromptHostKey                      // an unknown host key (yes/no/fingerprint)
)

// Question is one line to answer.
type Question struct {
	Text string
	Echo bool // false: hide what is typed
}

// PromptRequest is one round of questions for one destination.
type PromptRequest struct {
	Dest        string // the destination as the user named it, for labelling
	Kind        PromptKind
	Name        string // keyboard-interactive name, may be empty
	Instruction string // shown before the questions, may be empty
	Questions   []Question
}

// Prompter asks the user. The server relays it to one attached client;
// `psmux invoke` answers on the terminal. It returns one answer per
// question, or an error when nobody can answer.
type Prompter interface {
	Prompt(ctx context.Context, req PromptRequest) ([]string, error)
}

// PromptFunc adapts a function to Prompter.
type PromptFunc func(ctx context.Context, req PromptRequest) ([]string, error)

// Prompt calls f.
func (f PromptFunc) Prompt(ctx context.Context, req PromptRequest) ([]string, error) {
	return f(ctx, req)
}
