package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newRender() *cobra.Command {
	return &cobra.Command{
		Use:   "render DIR --host NAME",
		Short: "Print the desired state of one host",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("render: not yet")
		},
	}
}
