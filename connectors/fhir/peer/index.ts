export {
  buildCapabilityStatement,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  PEER_RESOURCE_TYPES,
} from './capability.js';
export { type FhirPeerCliOptions, runFhirPeerCli } from './cli.js';
export { loadFhirDefinitions } from './definitions.js';
export {
  type Fault,
  type FaultKind,
  type FaultMatch,
  type FaultProxy,
  type FaultProxyOptions,
  type FaultProxyStats,
  type FaultShare,
  type ProxiedRequest,
  startFaultProxy,
} from './fault-proxy.js';
export { type FhirPeer, type FhirPeerOptions, startFhirPeer } from './fhir-peer.js';
export { PeerRepository } from './peer-repository.js';
export { generatePracticePatients, isGeneratedTwin } from './population.js';
export { DEMO_APPOINTMENT_SYSTEM, DEMO_IPP_SYSTEM, demoPractice, generatePatients } from './seed.js';
