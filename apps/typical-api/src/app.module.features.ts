import { buildFeatures } from './features';

/** The features of this process, built once. */
export const FEATURES = buildFeatures();
