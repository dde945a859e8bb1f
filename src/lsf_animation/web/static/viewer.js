// The lsf-animation viewer: plays an animation.glb with its audio, in sync, offline.
//
// The audio element is the clock: while it plays, the animation is set to its currentTime every
// display frame, so picture and sound cannot drift apart; without audio a wall clock stands in.
// Lighting copies the CPU renderer's studio rig (lsf_animation/render/renderer.py, Lighting):
// lights fixed to the camera, a hemisphere ambient, a key light from the upper left and a weaker
// fill from the right. three.js divides diffuse light by pi (physically based units), so the
// intensities are the renderer's times pi.
//
// window.lsfViewer is the page's small scripting interface (used by the browser tests).

import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';

const LIGHTING = {
  keyDir: [-0.45, 0.5, 0.75],
  fillDir: [0.7, 0.05, 0.6],
  key: 0.85,
  fill: 0.3,
  ambientSky: 0.2,
  ambientGround: 0.07,
  // three.js's Blinn-Phong adds 4 * irradiance * specular * (n.h)^s: this is the renderer's
  // key highlight (0.25) over 4 * key.
  specular: 0.07,
  shininess: 30,
};
const BACKGROUND_SRGB = [0.17, 0.18, 0.21];

const params = new URLSearchParams(window.location.search);
const fixedSize = Math.max(0, Math.floor(Number(params.get('size')) || 0));

const el = (id) => document.getElementById(id);
const canvas = el('view');
const statusLine = el('status');
const playButton = el('play');
const scrub = el('scrub');
const timeLabel = el('time');
const sampleSelect = el('sample');

const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
renderer.toneMapping = THREE.NoToneMapping;
renderer.outputColorSpace = THREE.SRGBColorSpace;
renderer.setPixelRatio(fixedSize ? 1 : window.devicePixelRatio);

const scene = new THREE.Scene();
scene.background = new THREE.Color().setRGB(...BACKGROUND_SRGB, THREE.SRGBColorSpace);
const camera = new THREE.PerspectiveCamera(20, 1, 0.001, 100);
scene.add(camera);
for (const [dir, intensity] of [[LIGHTING.keyDir, LIGHTING.key], [LIGHTING.fillDir, LIGHTING.fill]]) {
  const light = new THREE.DirectionalLight(0xffffff, Math.PI * intensity);
  light.position.set(...dir).normalize();
  camera.add(light);
  camera.add(light.target); // at the camera: the light shines along -dir in camera space
}
const hemisphere = new THREE.HemisphereLight(
  new THREE.Color(LIGHTING.ambientSky, LIGHTING.ambientSky, LIGHTING.ambientSky),
  new THREE.Color(LIGHTING.ambientGround, LIGHTING.ambientGround, LIGHTING.ambientGround),
  Math.PI,
);
hemisphere.position.set(0, 1, 0);
camera.add(hemisphere);

const controls = new OrbitControls(camera, canvas);
controls.enableDamping = false;

const state = {
  gltf: null,
  mesh: null,
  mixer: null,
  actions: [],
  sample: 0,
  duration: 0,
  fps: 25,
  time: 0,
  playing: false,
  clockStart: 0,
  audio: null,
};

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', isError);
}

function resize() {
  let width;
  let height;
  if (fixedSize) {
    width = fixedSize;
    height = fixedSize;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    canvas.classList.add('fixed');
  } else {
    const box = canvas.parentElement.getBoundingClientRect();
    width = Math.max(1, Math.floor(box.width));
    height = Math.max(1, Math.floor(box.height));
  }
  renderer.setSize(width, height, false);
  camera.aspect = width / height;
  camera.updateProjectionMatrix();
}

function clampTime(t) {
  // LoopRepeat wraps at the clip's end, so stay a hair before it (well under a microsecond).
  return Math.min(Math.max(0, t), state.duration * (1 - 1e-9));
}

function applyTime(t) {
  state.time = Math.min(Math.max(0, t), state.duration);
  if (state.mixer) {
    state.mixer.setTime(clampTime(state.time));
  }
  scrub.value = String(state.duration > 0 ? state.time / state.duration : 0);
  timeLabel.textContent = `${state.time.toFixed(2)} / ${state.duration.toFixed(2)} s`;
}

function selectSample(k) {
  if (!state.actions[k]) {
    throw new Error(`no sample ${k}: the file holds ${state.actions.length}`);
  }
  state.actions.forEach((action, i) => {
    if (i === k) {
      action.play();
    } else {
      action.stop();
    }
  });
  state.sample = k;
  sampleSelect.value = String(k);
  applyTime(state.time);
}

async function play() {
  if (state.playing || !state.mixer) {
    return;
  }
  if (state.time >= state.duration - 1e-6) {
    applyTime(0);
  }
  state.playing = true;
  playButton.textContent = 'Pause';
  if (state.audio) {
    state.audio.currentTime = state.time;
    try {
      await state.audio.play();
    } catch (err) {
      state.playing = false;
      playButton.textContent = 'Play';
      setStatus(`the browser did not start the audio (${err.name}); press Play again`, true);
      return;
    }
  } else {
    state.clockStart = performance.now() / 1000 - state.time;
  }
}

function pause() {
  if (!state.playing) {
    return;
  }
  state.playing = false;
  playButton.textContent = 'Play';
  if (state.audio) {
    state.audio.pause();
    applyTime(state.audio.currentTime);
  }
}

function seek(t) {
  applyTime(t);
  if (state.audio) {
    state.audio.currentTime = state.time;
  }
  state.clockStart = performance.now() / 1000 - state.time;
}

function tick() {
  if (state.playing) {
    const t = state.audio ? state.audio.currentTime : performance.now() / 1000 - state.clockStart;
    applyTime(t);
    if (!state.audio && t >= state.duration) {
      pause();
    }
  }
  renderer.render(scene, camera);
  requestAnimationFrame(tick);
}

function useStudioMaterial(mesh) {
  const source = mesh.material;
  mesh.material = new THREE.MeshPhongMaterial({
    color: source.color ? source.color.clone() : new THREE.Color(1, 1, 1),
    vertexColors: Boolean(mesh.geometry.getAttribute('color')),
    specular: new THREE.Color(LIGHTING.specular, LIGHTING.specular, LIGHTING.specular),
    shininess: LIGHTING.shininess,
    side: THREE.DoubleSide,
  });
  source.dispose();
}

function placeCamera(gltf) {
  let fileCamera = null;
  gltf.scene.traverse((o) => {
    if (o.isCamera && !fileCamera) {
      fileCamera = o;
    }
  });
  const box = new THREE.Box3().setFromObject(state.mesh);
  const target = box.getCenter(new THREE.Vector3());
  if (fileCamera) {
    fileCamera.updateWorldMatrix(true, false);
    camera.position.setFromMatrixPosition(fileCamera.matrixWorld);
    camera.fov = fileCamera.fov;
    camera.near = fileCamera.near;
    const t = fileCamera.userData.target;
    if (Array.isArray(t) && t.length === 3) {
      target.set(t[0], t[1], t[2]);
    }
  } else {
    const size = box.getSize(new THREE.Vector3());
    camera.position.set(target.x, target.y, box.max.z + 3.5 * Math.max(size.x, size.y));
  }
  camera.lookAt(target);
  controls.target.copy(target);
  controls.update();
  camera.updateProjectionMatrix();
}

function showHeatmaps(list) {
  const panel = el('heatmaps');
  panel.replaceChildren();
  for (const item of list) {
    const figure = document.createElement('figure');
    const img = document.createElement('img');
    img.src = item.url;
    img.alt = `${item.name} frame-to-frame displacement heatmap`;
    const caption = document.createElement('figcaption');
    caption.textContent = `${item.name} frame-to-frame displacement`;
    figure.append(img, caption);
    panel.append(figure);
  }
  const toggle = el('show-heatmaps');
  toggle.disabled = list.length === 0;
  toggle.addEventListener('change', () => {
    panel.hidden = !toggle.checked;
    resize();
  });
}

async function loadAudio(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`audio: HTTP ${response.status}`);
  }
  // A blob URL: seeking works without HTTP range requests.
  const audio = new Audio(URL.createObjectURL(await response.blob()));
  audio.preload = 'auto';
  await new Promise((resolve, reject) => {
    audio.addEventListener('loadedmetadata', resolve, { once: true });
    audio.addEventListener('error', () => reject(new Error('audio: the file cannot be decoded')), {
      once: true,
    });
  });
  audio.addEventListener('ended', () => {
    state.playing = false;
    playButton.textContent = 'Play';
    applyTime(state.duration);
  });
  return audio;
}

async function load() {
  const response = await fetch('api/manifest.json');
  if (!response.ok) {
    throw new Error(`manifest: HTTP ${response.status}`);
  }
  const manifest = await response.json();
  document.title = `${manifest.title} — lsf-animation viewer`;
  el('title').textContent = manifest.title;
  const gltf = await new GLTFLoader().loadAsync(manifest.glb);
  state.gltf = gltf;
  scene.add(gltf.scene);
  gltf.scene.traverse((o) => {
    if (o.isSkinnedMesh && !state.mesh) {
      state.mesh = o;
    }
  });
  if (!state.mesh) {
    throw new Error('the file holds no skinned mesh');
  }
  state.mesh.frustumCulled = false;
  useStudioMaterial(state.mesh);
  const extras = gltf.scene.userData || {};
  state.fps = Number(extras.fps) || 25;
  state.mixer = new THREE.AnimationMixer(gltf.scene);
  state.actions = gltf.animations.map((clip) => state.mixer.clipAction(clip));
  state.duration = Math.max(0, ...gltf.animations.map((clip) => clip.duration));
  gltf.animations.forEach((clip, i) => {
    const option = document.createElement('option');
    option.value = String(i);
    option.textContent = clip.name || `sample ${i}`;
    sampleSelect.append(option);
  });
  if (manifest.audio) {
    state.audio = await loadAudio(manifest.audio);
  }
  placeCamera(gltf);
  resize();
  if (state.actions.length) {
    selectSample(0);
  } else {
    applyTime(0);
  }
  showHeatmaps(manifest.heatmaps);
  sampleSelect.disabled = state.actions.length < 2;
  playButton.disabled = false;
  scrub.disabled = false;
  const audioNote = manifest.audio ? `audio: ${manifest.audio_name}` : 'no audio';
  setStatus(`${state.actions.length} sample(s), ${state.duration.toFixed(2)} s, ${audioNote}`);
  return {
    duration: state.duration,
    fps: state.fps,
    samples: state.actions.length,
    vertices: state.mesh.geometry.getAttribute('position').count,
    audio: manifest.audio_name,
    morphTargets: (state.mesh.morphTargetInfluences || []).length,
  };
}

playButton.addEventListener('click', () => (state.playing ? pause() : play()));
scrub.addEventListener('input', () => seek(Number(scrub.value) * state.duration));
sampleSelect.addEventListener('change', () => selectSample(Number(sampleSelect.value)));
el('wireframe').addEventListener('change', (event) => {
  if (state.mesh) {
    state.mesh.material.wireframe = event.target.checked;
  }
});
window.addEventListener('keydown', (event) => {
  if (event.code === 'Space' && event.target === document.body) {
    event.preventDefault();
    if (state.playing) {
      pause();
    } else {
      play();
    }
  }
});
if (!fixedSize) {
  new ResizeObserver(resize).observe(canvas.parentElement);
}
resize();

const ready = load().catch((err) => {
  setStatus(`cannot show the animation: ${err.message}`, true);
  console.error(err);
  throw err;
});
requestAnimationFrame(tick);

window.lsfViewer = {
  ready,
  play,
  pause,
  seek,
  isPlaying: () => state.playing,
  time: () => state.time,
  selectSample,
  setWireframe: (on) => {
    state.mesh.material.wireframe = Boolean(on);
  },
  renderNow: () => renderer.render(scene, camera),
  // Skinned and morphed positions of every vertex at time t of sample k, computed by three.js
  // (Mesh.getVertexPosition: morph targets; SkinnedMesh: then the bone transforms), as an array
  // [x0, y0, z0, x1, ...] in metres.
  vertexPositions: (t, k = state.sample) => {
    selectSample(k);
    applyTime(t);
    state.gltf.scene.updateMatrixWorld(true);
    const mesh = state.mesh;
    const count = mesh.geometry.getAttribute('position').count;
    const out = new Array(3 * count);
    const v = new THREE.Vector3();
    for (let i = 0; i < count; i += 1) {
      mesh.getVertexPosition(i, v);
      v.applyMatrix4(mesh.matrixWorld);
      out[3 * i] = v.x;
      out[3 * i + 1] = v.y;
      out[3 * i + 2] = v.z;
    }
    return out;
  },
};
