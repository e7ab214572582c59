package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register(newCatCommand) }

func newCatCommand(env Env) *cobra.Command {
	var o clientOptions
	var limitRate string
	cmd := &cobra.Command{
		Use:   "cat URL...",
		Short: "Print remote files on standard output",
		Long: `Write the content of the files the URLs name to standard output, one after the
other. A broken transfer is resumed where it stopped.`,
		Example: `  ferry cat ftp://ftp.example.com/pub/README | less`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rateBytes, err := parseRate(limitRate)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			limit := newRateLimit(rateBytes)
			for _, arg := range args {
				if err := catOne(ctx, env, &o, arg, limit); err != nil {
					return err
				}
			}
			return nil
		},
	}
	o.register(cmd)
	cmd.Flags().StringVar(&limitRate, "limit-rate", "", "limit the transfer rate to RATE bytes/s (500K, 8M, ...)")
	return cmd
}

func catOne(ctx context.Context, env Env, o *clientOptions, raw string, limit *rateLimit) error {
	return o.withClient(ctx, env, raw, func(c remoteClient, r *remoteURL, rt *retrier) error {
		var written int64
		out := limit.writer(ctx, &localWriter{w: env.Stdout, n: &written})
		err := rt.do(ctx, "cat "+r.String(), func(int) error {
			_, err := c.Retrieve(ctx, r.resolve(), written, out)
			return err
		})
		if err != nil {
			return fmt.Errorf("cat %s: %w", r, err)
		}
		return nil
	})
}
