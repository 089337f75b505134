package model

// FLOPsPerToken returns the floating-point operations of one training
// token (forward and backward) of a GPT, as nanoGPT's estimate_mfu counts
// them (the PaLM paper's appendix B): 6·N for the N parameters other than
// the position embeddings (the tied output head counts once, through wte),
// plus 12·NLayer·NEmbd·BlockSize for attention's q·kᵀ and att·v at full
// context length.
func FLOPsPerToken(cfg GPTConfig) float64 {
	n := 0
	for _, t := range gptTensors(cfg) {
		if t.Name != "transformer.wpe.weight" {
			n += t.Size()
		}
	}
	return 6*float64(n) + 12*float64(cfg.NLayer)*float64(cfg.NEmbd)*float64(cfg.BlockSize)
}
