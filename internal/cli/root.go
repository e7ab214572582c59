// Package cli is the ferry command tree. main calls Run; everything a
// command reads or writes goes through Env so tests can drive it.
package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"
)

// Env is what a command talks to: its standard streams. Tests pass buffers.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Run executes the ferry command line args (without the program name).
func Run(ctx context.Context, env Env, args []string) error {
	root := &cobra.Command{
		Use:           "ferry",
		Short:         "ferry is an FTP/FTPS server and client",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetArgs(args)
	for _, add := range commands {
		root.AddCommand(add(env))
	}
	return root.ExecuteContext(ctx)
}

// commands holds the constructors of the subcommands; each file of this
// package that defines one registers it from init, so commands can be added
// without editing a shared list.
var commands []func(Env) *cobra.Command

func register(newCommand func(Env) *cobra.Command) {
	commands = append(commands, newCommand)
}
