//! Devices: which ones exist (for the GUI picker), opening the one a config names with a clear
//! refusal when it cannot be used, and sampling GPU memory and utilisation while training.
//!
//! GPUs are listed through NVML (`nvml-wrapper`), which dlopens `libnvidia-ml.so.1` at run
//! time: a CPU-only build links nothing extra and simply finds no GPU. NVML numbers GPUs in
//! PCI bus order; CUDA's default order is fastest first, so on machines with mixed GPUs set
//! `CUDA_DEVICE_ORDER=PCI_BUS_ID` for the two to agree.

use candle_core::{DType, Device};
use nvml_wrapper::Nvml;

use super::TrainError;
use crate::recipe::{DeviceSpec, TrainConfig};

/// Whether this binary was built with `--features cuda`.
pub const CUDA_COMPILED: bool = cfg!(feature = "cuda");

/// One entry of the device picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// What the config's `device` key takes: `"cpu"`, `"cuda:0"`, ...
    pub id: String,
    /// Human-readable name, e.g. "CPU (16 threads)" or "NVIDIA H200".
    pub name: String,
    /// Total device memory; `None` for the CPU.
    pub memory_total_bytes: Option<u64>,
    /// CUDA compute capability `(major, minor)`; `None` for the CPU or when unknown.
    pub compute_capability: Option<(u32, u32)>,
    /// Whether this build can train on it (GPUs need a `--features cuda` build).
    pub usable: bool,
}

/// Why a device cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error(
        "device = \"{requested}\": this build of Wick is CPU-only. Build it with \
         `cargo build --release --features cuda` (see the README, \"GPU (CUDA)\"), \
         or set device = \"cpu\""
    )]
    CudaNotCompiled { requested: String },
    #[error("device = \"{requested}\": {reason}")]
    CudaUnavailable { requested: String, reason: String },
    #[error(
        "bf16 = true: {device} ({name}) has compute capability {major}.{minor}; bf16 needs \
         8.0 or newer (Ampere, Hopper, ...). Turn bf16 off"
    )]
    Bf16Unsupported {
        device: String,
        name: String,
        major: u32,
        minor: u32,
    },
    #[error("{key} = true needs a CUDA device; set device = \"cuda\" or turn {key} off")]
    NeedsCuda { key: &'static str },
}

/// The precision settings of a run (TrainingArguments' `bf16`, `tf32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Precision {
    /// bf16 autocast: matmuls and activations in bf16, master weights and statistics in f32.
    pub bf16: bool,
    /// TF32 tensor-core matmuls for f32.
    pub tf32: bool,
}

impl Precision {
    /// The dtype the model computes matmuls and activations in.
    pub fn compute_dtype(self) -> DType {
        if self.bf16 { DType::BF16 } else { DType::F32 }
    }

    /// A run's `bf16` and `tf32` keys.
    pub fn of(cfg: &TrainConfig) -> Self {
        Self {
            bf16: cfg.bf16,
            tf32: cfg.tf32,
        }
    }

    /// The bench's `--precision` names: `fp32`, `tf32`, `bf16`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "fp32" | "f32" => Some(Self::default()),
            "tf32" => Some(Self {
                bf16: false,
                tf32: true,
            }),
            "bf16" => Some(Self {
                bf16: true,
                tf32: false,
            }),
            _ => None,
        }
    }
}

fn spec_id(spec: DeviceSpec) -> String {
    match spec {
        DeviceSpec::Cpu => "cpu".into(),
        DeviceSpec::Cuda(n) => format!("cuda:{n}"),
    }
}

/// The CPU first, then every GPU NVML can see (none when the NVIDIA driver is absent).
pub fn available_devices() -> Vec<DeviceInfo> {
    let mut devices = vec![DeviceInfo {
        id: "cpu".into(),
        name: format!("CPU ({} threads)", rayon::current_num_threads()),
        memory_total_bytes: None,
        compute_capability: None,
        usable: true,
    }];
    devices.extend(gpus().unwrap_or_default());
    devices
}

/// The GPUs NVML reports, or why NVML could not be asked.
pub fn gpus() -> Result<Vec<DeviceInfo>, String> {
    let nvml = Nvml::init().map_err(|e| format!("NVML is not available ({e})"))?;
    let count = nvml
        .device_count()
        .map_err(|e| format!("NVML cannot count GPUs ({e})"))?;
    Ok((0..count)
        .filter_map(|index| {
            let gpu = nvml.device_by_index(index).ok()?;
            Some(DeviceInfo {
                id: format!("cuda:{index}"),
                name: gpu.name().unwrap_or_else(|_| format!("GPU {index}")),
                memory_total_bytes: gpu.memory_info().ok().map(|m| m.total),
                compute_capability: gpu
                    .cuda_compute_capability()
                    .ok()
                    .map(|c| (c.major.max(0) as u32, c.minor.max(0) as u32)),
                usable: CUDA_COMPILED,
            })
        })
        .collect())
}

/// Opens the device `spec` names and applies the precision settings, refusing what cannot
/// work: CUDA in a CPU-only build, a missing GPU or driver, bf16/tf32 on the CPU, bf16 below
/// compute capability 8.0.
pub fn open(spec: DeviceSpec, precision: Precision) -> Result<Device, DeviceError> {
    let requested = spec_id(spec);
    let ordinal = match spec {
        DeviceSpec::Cpu => {
            if precision.bf16 {
                return Err(DeviceError::NeedsCuda { key: "bf16" });
            }
            if precision.tf32 {
                return Err(DeviceError::NeedsCuda { key: "tf32" });
            }
            return Ok(Device::Cpu);
        }
        DeviceSpec::Cuda(ordinal) => ordinal,
    };
    if !CUDA_COMPILED {
        return Err(DeviceError::CudaNotCompiled { requested });
    }
    let listed = gpus();
    if let Ok(found) = &listed
        && found.len() <= ordinal
    {
        let reason = if found.is_empty() {
            "no NVIDIA GPU found".to_string()
        } else {
            format!(
                "there is no GPU {ordinal}; found {}",
                found
                    .iter()
                    .map(|g| format!("{} ({})", g.id, g.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(DeviceError::CudaUnavailable { requested, reason });
    }
    if precision.bf16
        && let Some(gpu) = listed.as_ref().ok().and_then(|g| g.get(ordinal))
        && let Some((major, minor)) = gpu.compute_capability
        && major < 8
    {
        return Err(DeviceError::Bf16Unsupported {
            device: requested,
            name: gpu.name.clone(),
            major,
            minor,
        });
    }
    let device = Device::new_cuda(ordinal).map_err(|e| DeviceError::CudaUnavailable {
        reason: match &listed {
            Ok(_) => format!("CUDA could not start ({e})"),
            Err(nvml) => {
                format!("CUDA could not start ({e}); {nvml}: is the NVIDIA driver installed?")
            }
        },
        requested,
    })?;
    // A process-wide cuBLAS switch; set it either way so a tf32 run does not leak into the
    // next fp32 run of the same process.
    candle_core::cuda::set_gemm_reduced_precision_f32(precision.tf32);
    Ok(device)
}

/// Opens the device a run's config names (`device`, `bf16`, `tf32`): what the trainer and
/// the preflight train on.
pub fn open_for(cfg: &TrainConfig) -> Result<Device, TrainError> {
    let spec = cfg.device_spec().ok_or_else(|| {
        TrainError::Invalid(format!(
            "device = \"{}\": expected \"cpu\", \"cuda\" or \"cuda:N\"",
            cfg.device
        ))
    })?;
    Ok(open(spec, Precision::of(cfg))?)
}

/// How the trainer names an opened device: "cpu (N threads)", "cuda:0 (NVIDIA H200)".
pub fn describe(device: &Device) -> String {
    match device {
        Device::Cpu => format!("cpu ({} threads)", rayon::current_num_threads()),
        Device::Cuda(_) => {
            let location = device.location();
            let ordinal = match location {
                candle_core::DeviceLocation::Cuda { gpu_id } => gpu_id,
                _ => 0,
            };
            match gpus().ok().and_then(|g| g.into_iter().nth(ordinal)) {
                Some(gpu) => format!("cuda:{ordinal} ({})", gpu.name),
                None => format!("cuda:{ordinal}"),
            }
        }
        other => format!("{other:?}"),
    }
}

/// One reading of the training GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuSample {
    /// Device memory in use (all processes, as `nvidia-smi` shows it).
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    /// Percent of the last sample period in which a kernel was running.
    pub utilization_percent: u32,
}

/// Reads memory and utilisation of one GPU through NVML; cheap enough to call every step.
pub struct GpuSampler {
    nvml: Nvml,
    index: u32,
}

impl std::fmt::Debug for GpuSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuSampler")
            .field("index", &self.index)
            .finish()
    }
}

impl GpuSampler {
    /// A sampler for the GPU of `device`; `None` for the CPU or when NVML is unavailable.
    pub fn for_device(device: &Device) -> Option<Self> {
        let index = match device.location() {
            candle_core::DeviceLocation::Cuda { gpu_id } => gpu_id as u32,
            _ => return None,
        };
        Self::for_index(index)
    }

    /// A sampler for NVML's GPU `index`; `None` when NVML or that GPU is unavailable.
    pub fn for_index(index: u32) -> Option<Self> {
        let nvml = Nvml::init().ok()?;
        nvml.device_by_index(index).ok()?;
        Some(Self { nvml, index })
    }

    pub fn sample(&self) -> Option<GpuSample> {
        let gpu = self.nvml.device_by_index(self.index).ok()?;
        let memory = gpu.memory_info().ok()?;
        let utilization = gpu.utilization_rates().ok()?;
        Some(GpuSample {
            memory_used_bytes: memory.used,
            memory_total_bytes: memory.total,
            utilization_percent: utilization.gpu,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_is_always_listed_first() {
        let devices = available_devices();
        assert_eq!(devices[0].id, "cpu");
        assert!(devices[0].usable);
        assert_eq!(devices[0].memory_total_bytes, None);
        for gpu in &devices[1..] {
            assert!(gpu.id.starts_with("cuda:"), "{gpu:?}");
            assert_eq!(gpu.usable, CUDA_COMPILED);
        }
    }

    #[test]
    fn cpu_refuses_reduced_precision() {
        let bf16 = Precision::parse("bf16").unwrap();
        let err = open(DeviceSpec::Cpu, bf16).unwrap_err().to_string();
        assert!(err.contains("bf16 = true needs a CUDA device"), "{err}");
        let tf32 = Precision::parse("tf32").unwrap();
        let err = open(DeviceSpec::Cpu, tf32).unwrap_err().to_string();
        assert!(err.contains("tf32 = true needs a CUDA device"), "{err}");
        assert!(
            open(DeviceSpec::Cpu, Precision::default())
                .unwrap()
                .is_cpu()
        );
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_in_a_cpu_build_says_how_to_get_one() {
        let err = open(DeviceSpec::Cuda(1), Precision::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("device = \"cuda:1\": this build of Wick is CPU-only"));
        assert!(err.contains("--features cuda"), "{err}");
        assert!(GpuSampler::for_device(&Device::Cpu).is_none());
    }

    #[test]
    fn precision_names() {
        assert_eq!(Precision::parse("fp32"), Some(Precision::default()));
        assert_eq!(
            Precision::parse("bf16").unwrap().compute_dtype(),
            DType::BF16
        );
        assert_eq!(
            Precision::parse("tf32").unwrap().compute_dtype(),
            DType::F32
        );
        assert_eq!(Precision::parse("fp16"), None);
    }
}
