//! RoBERTa / XLM-RoBERTa specifics: padding-aware position ids and the classification head
//! (`classifier.dense` + tanh + dropout + `classifier.out_proj` on `<s>`).

use candle_core::Tensor;

use super::config::ModelConfig;
use super::dropout::Dropout;
use super::error::Result;
use super::layers::Linear;
use super::layers::first_token;
use super::params::{ParamTable, SpecList};

/// HF `create_position_ids_from_input_ids`: real tokens get `padding_idx + 1, +2, ...`
/// (counting only non-pad tokens), pads get `padding_idx`.
pub(crate) fn position_ids(input_ids: &Tensor, padding_idx: u32) -> Result<Tensor> {
    let rows = input_ids.to_vec2::<u32>()?;
    let (batch, seq) = input_ids.dims2()?;
    let mut out = Vec::with_capacity(batch * seq);
    for row in rows {
        let mut count = 0u32;
        for id in row {
            if id == padding_idx {
                out.push(padding_idx);
            } else {
                count += 1;
                out.push(padding_idx + count);
            }
        }
    }
    Ok(Tensor::from_vec(out, (batch, seq), input_ids.device())?)
}

pub(crate) fn head_specs(c: &ModelConfig, num_labels: usize, list: &mut SpecList) {
    list.start_head();
    list.linear("classifier.dense", c.hidden_size, c.hidden_size);
    list.linear("classifier.out_proj", c.hidden_size, num_labels);
}

#[derive(Debug, Clone)]
pub(crate) struct RobertaHead {
    dense: Linear,
    out_proj: Linear,
    dropout_p: f64,
}

impl RobertaHead {
    pub fn new(c: &ModelConfig, table: &ParamTable) -> Result<Self> {
        Ok(Self {
            dense: Linear::new(table, "classifier.dense")?,
            out_proj: Linear::new(table, "classifier.out_proj")?,
            dropout_p: c.head_dropout(),
        })
    }

    pub fn forward(&self, hidden: &Tensor, dropout: &mut Dropout) -> Result<Tensor> {
        let xs = dropout.apply(&first_token(hidden)?, self.dropout_p)?;
        let xs = self.dense.forward(&xs)?.tanh()?;
        let xs = dropout.apply(&xs, self.dropout_p)?;
        self.out_proj.forward(&xs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn positions_skip_pads_like_hf() {
        let ids = Tensor::new(&[[0u32, 5, 6, 2, 1, 1], [0, 7, 1, 8, 2, 1]], &Device::Cpu).unwrap();
        let pos = position_ids(&ids, 1).unwrap().to_vec2::<u32>().unwrap();
        assert_eq!(pos, vec![vec![2, 3, 4, 5, 1, 1], vec![2, 3, 1, 4, 5, 1]]);
    }
}
