//! Every CUDA kernel compiles through NVRTC to PTX for sm_80 and sm_90, with no GPU and
//! no driver: only libnvrtc (`.ci/run` installs PyPI `nvidia-cuda-nvrtc-cu12` and puts
//! its lib directory on LD_LIBRARY_PATH). Without libnvrtc the test says SKIPPED,
//! unless BITNET_REQUIRE_NVRTC=1, where a missing library fails it.
#![cfg(feature = "gpu")]

use bitnet_engine::cuda::{KERNEL_NAMES, compile, probe};

fn nvrtc_or_skip() -> bool {
    if probe::nvrtc_present() {
        return true;
    }
    assert!(
        std::env::var("BITNET_REQUIRE_NVRTC").as_deref() != Ok("1"),
        "BITNET_REQUIRE_NVRTC=1 but libnvrtc was not found: pip install nvidia-cuda-nvrtc-cu12 and add nvidia/cuda_nvrtc/lib to LD_LIBRARY_PATH"
    );
    eprintln!(
        "SKIPPED: libnvrtc not found (set LD_LIBRARY_PATH to a libnvrtc.so.12/.13 directory)"
    );
    false
}

#[test]
fn every_kernel_compiles_to_ptx_for_sm80_and_sm90() {
    if !nvrtc_or_skip() {
        return;
    }
    eprintln!("NVRTC {:?}", compile::nvrtc_version());
    for (major, minor) in [(8, 0), (9, 0)] {
        let arch = compile::arch_for(major, minor).unwrap();
        let ptx = compile::ptx(arch)
            .unwrap_or_else(|e| panic!("{e}"))
            .to_src();
        assert!(
            ptx.contains(&format!(".target sm_{major}{minor}")),
            "PTX for {arch} targets something else"
        );
        for name in KERNEL_NAMES {
            assert!(
                ptx.contains(&format!(".entry {name}(")),
                "{arch}: kernel {name} is not in the PTX"
            );
        }
        // __dp4a must compile to the hardware instruction, not an emulation.
        assert!(ptx.contains("dp4a.s32.s32"), "{arch}: no dp4a in the PTX");
        if let Ok(dir) = std::env::var("BITNET_PTX_DIR") {
            let path = std::path::Path::new(&dir).join(format!("kernels-{arch}.ptx"));
            std::fs::write(&path, &ptx).unwrap();
            eprintln!("wrote {}", path.display());
        }
    }
}

#[test]
fn arch_choice_follows_compute_capability() {
    assert_eq!(compile::arch_for(9, 0).unwrap(), "compute_90");
    assert_eq!(compile::arch_for(8, 9).unwrap(), "compute_89");
    assert_eq!(compile::arch_for(8, 6).unwrap(), "compute_86");
    assert_eq!(compile::arch_for(10, 3).unwrap(), "compute_100");
    assert_eq!(compile::arch_for(12, 0).unwrap(), "compute_120");
    assert!(compile::arch_for(7, 0).is_err());
}
