"""The torch Trainer on the course recipe (MiniLM, MRPC, batch 8, dynamic padding, seed 42),
for N optimizer steps on the CPU with 2 threads, from the Hub-layout folder ../shared/hub.
Prints one JSON line with train_samples_per_second. Used by scripts/bench-vs-torch.sh."""
import json
import sys

import torch
from datasets import load_dataset
from transformers import (AutoModelForSequenceClassification, AutoTokenizer,
                          DataCollatorWithPadding, Trainer, TrainingArguments)

hub, steps, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
torch.set_num_threads(2)
model_dir = f"{hub}/models/sentence-transformers/all-MiniLM-L6-v2"
files = f"{hub}/datasets/nyu-mll/glue/mrpc"
raw = load_dataset("parquet", data_files={"train": f"{files}/train-00000-of-00001.parquet"})
tokenizer = AutoTokenizer.from_pretrained(model_dir)
train = raw["train"].map(
    lambda b: tokenizer(b["sentence1"], b["sentence2"], truncation=True), batched=True
)
model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
args = TrainingArguments(
    output_dir=out, per_device_train_batch_size=8, max_steps=steps, seed=42,
    learning_rate=5e-5, logging_steps=10_000, save_strategy="no", eval_strategy="no",
    report_to=[], use_cpu=True, dataloader_num_workers=0,
)
trainer = Trainer(model=model, args=args, train_dataset=train,
                  data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer)
metrics = trainer.train().metrics
print(json.dumps({"impl": "torch", "steps": steps,
                  "train_samples_per_second": metrics["train_samples_per_second"]}))
