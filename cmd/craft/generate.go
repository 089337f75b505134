package main

import (
	"fmt"
	"math/rand/v2"

	"github.com/spf13/cobra"

	"github.com/craftml/craft/conf"
	"github.com/craftml/craft/dataset"
	"github.com/craftml/craft/model"
	"github.com/craftml/craft/worker"
)

func newGenerateCmd() *cobra.Command {
	var (
		path, prompt string
		tokens, topK int
		temperature  float64
		seed         uint64
	)
	cmd := &cobra.Command{
		Use:   "generate --checkpoint FILE --prompt TEXT",
		Short: "Sample text from a GPT checkpoint",
		Long: `Generate continues --prompt with --tokens new tokens from the latest checkpoint of a
run, decoding with the tokenizer saved in the checkpoint. Temperature 0 picks the
most likely token each time; above 0 it samples, from the --top-k most likely when set.`,
		Example: `  craft generate --checkpoint runs/local/craft.db --prompt "12+35=" --tokens 3 --temperature 0
  craft generate --checkpoint runs/shakespeare/craft.db --prompt "ROMEO:" --tokens 300`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return fmt.Errorf("--checkpoint FILE is required")
			}
			if prompt == "" {
				return fmt.Errorf("--prompt is required (at least one character)")
			}
			if tokens < 0 || temperature < 0 || topK < 0 {
				return fmt.Errorf("--tokens, --temperature and --top-k must not be negative")
			}
			cp, c, err := openCheckpoint(cmd.Context(), path)
			if err != nil {
				return err
			}
			if c.Model.Kind != "gpt" {
				return fmt.Errorf("%s holds a %s model; generate needs a gpt", path, c.Model.Kind)
			}
			tok, err := dataset.UnmarshalTokenizer(cp.Tokenizer)
			if err != nil {
				return fmt.Errorf("tokenizer saved in %s: %w", path, err)
			}
			g, err := loadGPT(c, tok, cp.Params)
			if err != nil {
				return fmt.Errorf("%s step %d: %w", path, cp.Step, err)
			}
			if c.Data.Kind == "addition" && !cmd.Flags().Changed("tokens") {
				tokens = c.Data.Digits + 1 // the answer's digits, and no more
			}
			ids := tok.Encode(prompt)
			if len(ids) == 0 {
				return fmt.Errorf("--prompt %q encodes to no tokens", prompt)
			}
			for _, id := range ids {
				if int(id) >= g.Config().VocabSize || id < 0 {
					return fmt.Errorf("--prompt %q holds a token the model does not know", prompt)
				}
			}
			rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
			out := g.Generate(ids, tokens, model.Sampling{Temperature: float32(temperature), TopK: topK}, rng)
			fmt.Fprintln(cmd.OutOrStdout(), tok.Decode(out))
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "checkpoint", "", "checkpoint file (craft.db) of a GPT run")
	cmd.Flags().StringVar(&prompt, "prompt", "", "text to continue")
	cmd.Flags().IntVar(&tokens, "tokens", 100, "new tokens to generate (addition models: the answer's digits)")
	cmd.Flags().Float64Var(&temperature, "temperature", 0.8, "sampling temperature; 0 = always the most likely token")
	cmd.Flags().IntVar(&topK, "top-k", 0, "sample only among the k most likely tokens; 0 = all")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the sampling")
	return cmd
}

// loadGPT rebuilds the GPT of configuration c with vocabulary tok and the
// given parameters. Only the addition task is opened (it is generated, not
// read), so generating from a text model does not need its corpus.
func loadGPT(c conf.Config, tok dataset.Tokenizer, params []byte) (*model.GPT, error) {
	width := c.Model.BlockSize
	if width == 0 {
		src, err := worker.OpenSource(c)
		if err != nil {
			return nil, err
		}
		width = src.Width()
	}
	g, err := model.NewGPT(worker.GPTConfig(c, tok.VocabSize(), width, 1))
	if err != nil {
		return nil, err
	}
	a := g.Arena()
	if len(params) != 4*len(a.Params) {
		return nil, fmt.Errorf("%d bytes of parameters; the model has %d", len(params), 4*len(a.Params))
	}
	worker.DecodeFloats(a.Params, params)
	return g, nil
}
