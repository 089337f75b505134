package conf_test

import (
	"fmt"

	"github.com/craftml/craft/conf"
)

func ExampleParse() {
	file := []byte("model:\n  n_layer: 4\ntrain:\n  steps: 500\n")
	c, err := conf.Parse("my.yaml", file, []string{"train.learning_rate=3e-4"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Model.NLayer, c.Train.Steps, c.Train.LearningRate, c.Train.GlobalBatch)

	_, err = conf.Parse("bad.yaml", []byte("train:\n  stpes: 500\n"), []string{"model.n_head=abc"})
	fmt.Println(err)
	// Output:
	// 4 500 0.0003 64
	// bad.yaml:2:3: unknown key "stpes" in train (did you mean "steps"?)
	// --set model.n_head=abc: model.n_head must be an integer
}
