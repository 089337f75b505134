package model

// kern holds the argument structs of the parallel loops of one model, so
// that handing a loop to the pool allocates nothing: each parallel layer
// function is a method that fills its struct and runs it. A kern serves one
// goroutine at a time (its model's).
type kern struct {
	colSumJob     colSumJob
	encoderBwdJob encoderBackwardJob
	lnFwdJob      layerNormForwardJob
	lnBwdJob      layerNormBackwardJob
	lnBwdColJob   layerNormBackwardColJob
	geluFwdJob    geluForwardJob
	geluBwdJob    geluBackwardJob
	attnFwdJob    attentionForwardJob
	attnBwdJob    attentionBackwardJob
	ceFwdJob      crossEntropyForwardJob
	ceBwdJob      crossEntropyBackwardJob
	residualJob   residualJob
	dropoutJob    dropoutMaskJob
}
