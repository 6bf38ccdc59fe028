/**
 * Boot from an image over HTTPS: nginx on 127.0.0.1 (10.0.2.2 from the guest) with a certificate
 * from a throwaway CA that goes into the stick with --ca-cert; nbdkit's curl plugin serves the image
 * lazily from the runtime root to the kernel's NBD client, and dm-verity checks it as for http://. The scenarios are the ones http://
 * runs (test/helpers/net-image.ts); the good boot is the suite's UEFI boot of a network lower.
 */
import { describeImageLower } from '../helpers/net-image.js';

describeImageLower('https', { goodBootUefi: true });
