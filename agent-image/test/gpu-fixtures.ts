// Where the recorded nvidia-smi outputs and the fake nvidia-smi that replays them are (see
// fixtures/nvidia-smi/README.md). Compiled location: agent-image/dist/test/ → agent-image/test/fixtures/.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../../test/fixtures/nvidia-smi/', import.meta.url));
/** A stand-in for nvidia-smi: replays the recording in FAKE_NVIDIA_SMI_DIR. */
export const FAKE_NVIDIA_SMI = join(FIXTURES, 'fake-nvidia-smi');
