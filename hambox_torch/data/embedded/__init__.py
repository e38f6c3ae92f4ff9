"""The embedded default data set: a deterministic WIDER FACE–format mini set, generated offline.

No face benchmark may be downloaded at run time, so the demo trains and evaluates on a small set
that this package composes from material scikit-image ships: the 100 face crops of
:func:`skimage.data.lfw_subset` (grey 25x25, first 100 of its 200 crops) as faces, its 100
non-face crops and other textures as distractors, and its photographs as backgrounds. It is a
smoke-scale benchmark, never to be quoted as WIDER FACE accuracy.

:func:`ensure_embedded` returns the default set's folder (:func:`embedded_root`), generating it
on first use; :func:`generate_embedded` writes a set of any size anywhere (``hambox embedded``
on the command line). What is written is exactly the WIDER FACE layout, so every reader, the
training recipe and the official evaluation run on it unchanged.

How an image is made (:func:`render_image`; every random choice comes from one generator
seeded by ``(seed, split, image index)``, so the same seed gives byte-identical files, and
image ``n`` does not depend on how many images are generated), one module per step:

1. **Scene** (:mod:`.layout`). One of four, each its own event folder: ``0--Crowd`` (up to
   ~100 faces of 6-20 px in rows that grow towards the bottom, as in WIDER crowds),
   ``1--Portrait`` (1-3 large faces), ``2--Group`` (5-20 medium faces in 1-3 rows) and
   ``3--Scenery`` (no face, only distractors). Every scene with faces also gets a few faces at
   sizes log-uniform over the whole range.
2. **Background** (:mod:`.sources`). A random crop of a photograph or texture bundled with
   scikit-image (rescaled, flipped, colour-shifted; grey ones tinted), sometimes blended with a
   second one. The two photographs that show a real person (``astronaut``, ``camera``) are used
   only in regions without the face, which would otherwise be an unannotated face.
3. **Faces** (:mod:`.sources`, :mod:`.compositing`). Train images use 80 of the 100 LFW face
   crops, val images the other 20 (a fixed permutation, :func:`face_pools`; every crop is its
   own identity, the subset has no labels). The annotated box is the central face area of the
   crop (:data:`FACE_BOX`, forehead to chin, cheek to cheek), what a WIDER annotator would
   draw; its size ``sqrt(w * h)`` is drawn per scene (log-uniform ranges of
   :class:`Difficulty`) and its aspect ``h / w`` from 1.0 to 1.3. The crop is resampled so that
   its face area lands on the integer box, tinted to a skin tone, jittered in colour, and
   **blended with a feathered elliptical alpha mask** inscribed in the box, never pasted as a
   square. Per object, at random: gaussian blur, darkening (with a soft shadow on the
   background around it) or else low contrast towards the background, noise, and an occluder
   (a bar or blob of flat colour or background texture) over part of the box.
4. **Distractors** (:mod:`.sources`, :mod:`.compositing`). Non-face LFW crops, block-scrambled
   face crops of the same split and plain texture crops, at the sizes of the image's faces,
   through exactly the same mask, colour and degradation pipeline (crowd rows get some too),
   so that "a blended ellipse" is no face cue.
5. **Global** (:mod:`.effects`). Sometimes low light (gain and gamma), haze (low contrast) or
   blur over the whole image, and noise; then JPEG at a fixed quality (:mod:`.writer`).

Objects are pasted from the top of the image to the bottom, so front rows may cover the chins
of the rows behind a little. The attribute columns (``blur expression illumination invalid
occlusion pose``) are filled from what was generated, and the val keep lists follow from the
face size and those attributes (:mod:`.annotations`): **hard** = every valid face (all are at
least 6 px); **medium** = hard faces of at least 16 px that are not heavily occluded;
**easy** = medium faces of at least 40 px without occlusion, heavy blur or extreme
illumination. So easy ⊂ medium ⊂ hard, as in the official set.

Modules: :mod:`.difficulty` (the knobs), :mod:`.sampling` (the shared random draws),
:mod:`.sources`, :mod:`.layout`, :mod:`.compositing`, :mod:`.effects`, :mod:`.annotations`,
:mod:`.render`, :mod:`.writer` (files and manifest) and :mod:`.location` (the default folder).

Examples
--------
>>> img = render_image(0, "val", 3, image_size=((64, 64), (96, 96)))
>>> img.image.shape, img.image.dtype
((64, 96, 3), dtype('uint8'))
"""

from .annotations import keep_lists
from .difficulty import MIN_FACE, Difficulty
from .layout import SCENES
from .location import DATA_ENV, embedded_root, ensure_embedded
from .render import SyntheticImage, render_image
from .sources import FACE_BOX, face_pools
from .writer import EVENTS, GENERATOR_VERSION, MANIFEST_NAME, generate_embedded, read_manifest

__all__ = [
    "DATA_ENV",
    "EVENTS",
    "FACE_BOX",
    "GENERATOR_VERSION",
    "MANIFEST_NAME",
    "MIN_FACE",
    "SCENES",
    "Difficulty",
    "SyntheticImage",
    "embedded_root",
    "ensure_embedded",
    "face_pools",
    "generate_embedded",
    "keep_lists",
    "read_manifest",
    "render_image",
]
