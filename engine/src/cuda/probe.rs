//! Finds a usable CUDA device before anything touches cudarc's lazily loaded
//! libraries (a missing one panics inside cudarc). Each failure names what is missing
//! and how to provide it; the CLI turns it into exit code 2, never a CPU run.

use std::sync::Arc;

use cudarc::driver::{CudaContext, sys};

use crate::error::{EngineError, Result};

/// What the receipt's `host.gpu` says about the device, read from the driver.
#[derive(Clone, Debug)]
pub struct GpuInfo {
    pub name: String,
    pub compute_capability: (i32, i32),
    /// The driver's CUDA version, e.g. "13.0".
    pub driver: String,
    pub memory_mb: u64,
}

impl GpuInfo {
    /// The receipt's `host.gpu`.
    pub fn receipt(&self) -> crate::receipt::Gpu {
        crate::receipt::Gpu {
            name: self.name.clone(),
            compute_capability: format!(
                "{}.{}",
                self.compute_capability.0, self.compute_capability.1
            ),
            driver: self.driver.clone(),
            memory_mb: self.memory_mb,
        }
    }
}

fn unavailable(what: impl Into<String>) -> EngineError {
    EngineError::DeviceUnavailable(what.into())
}

/// Whether libnvrtc can be loaded (cudarc's own search: libnvrtc.so, .so.13, .so.12, …).
pub fn nvrtc_present() -> bool {
    // SAFETY: only tries to dlopen the library by its candidate names.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Whether libcuda (the driver library) can be loaded.
pub fn driver_present() -> bool {
    // SAFETY: only tries to dlopen the library by its candidate names.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// Opens device `ordinal` and reads what the receipt needs, or says what is missing.
pub fn probe(ordinal: usize) -> Result<(Arc<CudaContext>, GpuInfo)> {
    if !driver_present() {
        return Err(unavailable(
            "the NVIDIA driver library libcuda.so was not found (install the NVIDIA driver, or add its directory to LD_LIBRARY_PATH)",
        ));
    }
    if !nvrtc_present() {
        return Err(unavailable(
            "NVRTC (libnvrtc.so.13 or libnvrtc.so.12) was not found; the kernels are compiled at run time (install the CUDA toolkit, or `pip install nvidia-cuda-nvrtc-cu12` and add its lib directory to LD_LIBRARY_PATH)",
        ));
    }
    let count = CudaContext::device_count().map_err(|e| {
        unavailable(format!(
            "the CUDA driver did not initialise: {e:?} (is a GPU visible? check nvidia-smi)"
        ))
    })?;
    if count <= ordinal as i32 {
        return Err(unavailable(format!(
            "no CUDA device {ordinal}: the driver sees {count} device(s)"
        )));
    }
    let ctx = CudaContext::new(ordinal)
        .map_err(|e| unavailable(format!("creating a context on device {ordinal}: {e:?}")))?;
    let driver_err = |e| unavailable(format!("reading device {ordinal}'s properties: {e:?}"));
    let name = ctx.name().map_err(driver_err)?;
    let compute_capability = ctx.compute_capability().map_err(driver_err)?;
    let memory_mb = ctx.total_mem().map_err(driver_err)? as u64 / (1 << 20);
    let mut version = 0i32;
    // SAFETY: the driver library is loaded (checked above); writes one int.
    let rc = unsafe { sys::cuDriverGetVersion(&mut version) };
    if rc != sys::CUresult::CUDA_SUCCESS {
        return Err(unavailable(format!("cuDriverGetVersion failed: {rc:?}")));
    }
    let info = GpuInfo {
        name,
        compute_capability,
        driver: format!("{}.{}", version / 1000, version % 1000 / 10),
        memory_mb,
    };
    Ok((ctx, info))
}
