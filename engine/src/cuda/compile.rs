//! NVRTC compilation of `kernels.cu` to PTX, cached per virtual architecture (so per
//! compute capability) for the life of the process. Needs libnvrtc only: no device,
//! no driver, which is how CI compiles every kernel for sm_80 and sm_90.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use cudarc::nvrtc::{CompileError, CompileOptions, Ptx, compile_ptx_with_opts};

use crate::error::{EngineError, Result};

/// Virtual architectures the kernels are compiled for, oldest first. A device gets
/// the newest one not above its compute capability (its driver JITs the PTX).
const ARCHES: &[(i32, &str)] = &[
    (75, "compute_75"),
    (80, "compute_80"),
    (86, "compute_86"),
    (87, "compute_87"),
    (89, "compute_89"),
    (90, "compute_90"),
    (100, "compute_100"),
    (120, "compute_120"),
];

/// The `--gpu-architecture` for a device of compute capability `major.minor`.
pub fn arch_for(major: i32, minor: i32) -> Result<&'static str> {
    let cc = major * 10 + minor;
    ARCHES
        .iter()
        .rev()
        .find(|(a, _)| *a <= cc)
        .map(|(_, name)| *name)
        .ok_or_else(|| {
            EngineError::DeviceUnavailable(format!(
                "compute capability {major}.{minor} is below 7.5, the oldest this backend targets"
            ))
        })
}

/// Compiles every kernel to PTX for `arch` (e.g. "compute_90"); cached per arch.
pub fn ptx(arch: &'static str) -> Result<Ptx> {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, Ptx>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache.lock().map_err(|_| poisoned())?.get(arch) {
        return Ok(p.clone());
    }
    if !super::probe::nvrtc_present() {
        return Err(EngineError::DeviceUnavailable(
            "NVRTC (libnvrtc.so.13 or libnvrtc.so.12) was not found".into(),
        ));
    }
    let opts = CompileOptions {
        arch: Some(arch),
        name: Some("kernels.cu".into()),
        ..Default::default()
    };
    let p = compile_ptx_with_opts(super::KERNEL_SOURCE, opts).map_err(|e| {
        let detail = match e {
            CompileError::CompileError { log, .. } => log.to_string_lossy().into_owned(),
            other => format!("{other:?}"),
        };
        EngineError::Kernels(format!(
            "NVRTC could not compile engine/cuda/kernels.cu for {arch}:\n{detail}"
        ))
    })?;
    cache
        .lock()
        .map_err(|_| poisoned())?
        .insert(arch, p.clone());
    Ok(p)
}

fn poisoned() -> EngineError {
    EngineError::Kernels("the PTX cache lock was poisoned by a panic".into())
}

/// NVRTC's version as (major, minor), for logs.
pub fn nvrtc_version() -> Option<(i32, i32)> {
    if !super::probe::nvrtc_present() {
        return None;
    }
    let (mut major, mut minor) = (0, 0);
    // SAFETY: the library is loaded (checked above); writes two ints.
    let rc = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) };
    (rc == cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS).then_some((major, minor))
}
