"""The typed settings of a study: one frozen dataclass per stage of the paper, filled from a profile.

A profile (``book/profiles/<name>.yml``) has one section per dataclass below, plus the run-wide
``seed`` and ``device``; :func:`corrrelax_lib.config.load_study_config` reads it into a
:class:`StudyConfig`, refusing unknown keys and wrong types with the file and the key. The
defaults are the paper's settings (VinDr-Mammo on GPUs); the ``tiny`` profile scales them to the
phantoms. Each field says where the paper sets it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal


@dataclass(frozen=True)
class DataConfig:
    """Which data (§3.2).

    Attributes:
        dataset: a manifest in ``data_manifests/``: ``phantom-tiny`` (generated) or ``vindr-mammo``.
        data_root_env: the environment variable holding the data root (``full``: ``CORRRELAX_DATA``);
            ``None`` generates the data under the artifacts folder.
        n_examples_per_label: crops shown per label in the dataset chapter.
        test_images: explain and score only the first this many test images with findings (ordered by
            ``(study_id, image_id)``); ``None``: every one (the paper: 357).
    """

    dataset: str = "vindr-mammo"
    data_root_env: str | None = None
    n_examples_per_label: int = 6
    test_images: int | None = None


@dataclass(frozen=True)
class ImagePreprocessing:
    """What every mammogram goes through before the classifier sees it (§3.1): what a cached image depends on.

    Attributes:
        clahe_clip_limits: one CLAHE channel per clip limit beside the original (paper: 1.0, 2.0).
        clahe_tile_grid: CLAHE tiles per side (paper: 8).
        apply_voi_lut: apply each DICOM's VOI LUT or window before min-max scaling. The paper states only
            scaling to [0, 1] and MONOCHROME1 inversion (off); the authors' code applies ``apply_voi_lut``
            first (on).
        clahe_histogram: the CLAHE histogram's depth: ``"data"``, as fine as the scan's grey levels allow
            (:func:`~corrrelax_lib.preprocess.clahe.histogram_bits`; this project), or ``"8-bit"``: OpenCV's
            8-bit CLAHE (the paper names OpenCV's CLAHE, not its depth; the authors' code runs it on uint8).
        clahe_background: ``"kept"``: the CLAHE channels as CLAHE leaves them (the paper says nothing
            else), or ``"zero"``: set back to 0 where the 8-bit original is 0, as the authors' code does.
    """

    clahe_clip_limits: tuple[float, ...] = (1.0, 2.0)
    clahe_tile_grid: int = 8
    apply_voi_lut: bool = False
    clahe_histogram: Literal["data", "8-bit"] = "data"
    clahe_background: Literal["kept", "zero"] = "kept"

    @classmethod
    def of(cls, settings: ImagePreprocessing) -> ImagePreprocessing:
        """The fields of this class alone, from ``settings`` (e.g. a :class:`PreprocessingConfig`, whose
        ``external_image_height`` a cached image or a trained classifier does not depend on)."""
        return cls(**{item.name: getattr(settings, item.name) for item in fields(cls)})


@dataclass(frozen=True)
class PreprocessingConfig(ImagePreprocessing):
    """Intensity, CLAHE fusion and ROI (§3.1): the fields of :class:`ImagePreprocessing`, plus one for other sites.

    Attributes:
        external_image_height: rows each scan from another site is resampled to (chapter 11; VinDr's mean 3387).
    """

    external_image_height: int = 3387


@dataclass(frozen=True)
class ClassifierConfig:
    """The multi-scale crop classifier and its training (§3.3).

    Attributes:
        backbone: a name of :data:`corrrelax_lib.models.backbones.BACKBONES` (paper: EfficientNetV2-S).
        pretrained_weights: torchvision weights (``"DEFAULT"``: ImageNet, as the paper) or ``None``.
        crop_size: model input side, pixels (paper: 256).
        crop_scale, crop_aspect: crop area as a multiple of the box's, and width / height (paper: 0.05–5, 0.33–1.66).
        epochs, batch_size: cosine-annealed epochs and crops per step (paper: 50, 48; the authors' code: 100, 32).
        learning_rate, final_learning_rate: Adam's initial rate and the annealing floor (paper: 1e-3, 1e-7;
            the authors' code: 1e-4, 1e-7).
        focal_alpha, focal_gamma: the focal loss's α and γ (paper: 0.95, 2.5; the authors' code: 0.8, 2.0).
        focal_alpha_form: ``"alpha_t"`` (Lin et al.; the paper's text and the authors' code) or ``"printed"``
            (Eq. 1 as printed, α on both terms); see :mod:`corrrelax_lib.training.focal_loss`.
        focal_reduction: the loss of a batch: ``"mean"`` over its crops and labels (the paper does not say;
            this project) or ``"sum"`` (the authors' code: torchvision's ``sigmoid_focal_loss(reduction="sum")``).
        weight_decay: Adam's L2 weight decay (the paper states none: 0; the authors' code: 1e-5).
        sample_weight: how a crop's labels make its sampling weight from their inverse frequencies: ``"max"``
            (the rarest label decides; this project, the paper says only "inverse of the label frequency") or
            ``"sum"`` (the authors' code).
        augmentation: ``"paper"``: flips, rotation ±30° and colour jitter on every crop (§3.3; hue 0.05 and
            the other magnitudes ours), or ``"authors"``: the same flips and rotation, then colour jitter with
            hue 0.1 and a random channel permutation together in one ``RandomApply(p=0.5)``, as the authors'
            code; see :func:`corrrelax_lib.data.crop_dataset.training_augmentation`.
        input_normalisation: ``"imagenet"``: the backbone sees ``(x - mean) / std`` with ImageNet's
            statistics (this project; the paper does not say), or ``"none"``: the [0, 1] crop as is (the
            authors' code).
        head_output_bias: whether the head's last Linear has a bias (the paper's dense layer: yes; one
            version of the authors' code: no).
        num_workers: DataLoader processes (results do not depend on it).
    """

    backbone: str = "efficientnet_v2_s"
    pretrained_weights: str | None = "DEFAULT"
    crop_size: int = 256
    crop_scale: tuple[float, float] = (0.05, 5.0)
    crop_aspect: tuple[float, float] = (0.33, 1.66)
    epochs: int = 50
    batch_size: int = 48
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-7
    focal_alpha: float = 0.95
    focal_gamma: float = 2.5
    focal_alpha_form: Literal["alpha_t", "printed"] = "alpha_t"
    focal_reduction: Literal["mean", "sum"] = "mean"
    weight_decay: float = 0.0
    sample_weight: Literal["max", "sum"] = "max"
    augmentation: Literal["paper", "authors"] = "paper"
    input_normalisation: Literal["imagenet", "none"] = "imagenet"
    head_output_bias: bool = True
    num_workers: int = 0


@dataclass(frozen=True)
class ModelSelectionConfig:
    """Table 2: backbones trained under one protocol on the 4-label subset (§3.3).

    Attributes:
        backbones: the backbones compared.
        epochs: epochs per backbone.
    """

    backbones: tuple[str, ...] = ("densenet121", "efficientnet_v2_s", "resnet50", "swin_t", "vgg19",
                                  "mobilenet_v3_large")
    epochs: int = 50


@dataclass(frozen=True)
class CorrelaxConfig:
    """CorRELAX's windows and masks (§3.4–3.5), and how its maps are made.

    Attributes:
        window_size, stride: the sliding-window grid, pixels (paper: 256, 48; the authors ran 256, 32).
        n_masks: masks per window (paper: 2560; the authors ran 1280).
        mask_cells: mask grid cells per side before bilinear upsampling (paper: 8).
        keep_prob: probability that a cell is kept, i.e. not masked (paper: 0.5).
        mask_shift: shift each upsampled mask by a random sub-cell offset (RISE; not in the paper).
        mask_sharing: ``"shared"``: one seeded mask set for every window and image (this project; the paper
            does not say); ``"per_window"``: a fresh seeded set for every window, as the authors' code draws
            them (``rand > p`` per window). Both are fixed by ``seed``: reruns give the same maps.
        mask_chunk: masks per round (paper: sets of 128; the authors ran sets of 32).
        min_foreground: windows with a smaller breast share are skipped.
        correlation_dtype: ``"float64"``: similarities and correlations in float64, streamed (this project; the
            paper does not say); ``"float32"``: ``torch.corrcoef`` of the stacked float32 similarities, as the
            authors' code.
        undefined_correlation: a correlation whose series has no variance is ``"nan"``, missing from the
            smoothing (this project; the paper does not say), or ``"zero"``, as the authors' code sets it.
        reconstruction: ``"centred"``: the centred IoU kernel (offsets up to half a window, Eq. 5–10), a
            convolution normalised over the windows present, then bilinear interpolation between window
            centres (this project's reading of §3.5); ``"authors"``: the authors' code's kernel (offsets
            ``arange(-window_size/2, window_size/2 + 1, stride)``, 6 × 6 and off centre at 256 / 48), a full
            convolution and a stretch of the grown grid over the image.
        batch_size: masked windows per forward pass (halved on out-of-memory; results do not depend on it).
        mask_design: how the shared mask set's cells are drawn (beyond the paper): ``"bernoulli"``, independent
            cells (the paper), or a variance-reduced design of :mod:`corrrelax_lib.attribution.mask_designs`.
        mask_budget: ``"fixed"``: every window gets ``n_masks`` masks (the paper); ``"outcome"``: every window
            gets ``budget_first_masks``, and only windows that can still change a map's maximum or a Table 4
            criterion get more, up to ``n_masks`` (beyond the paper; :mod:`corrrelax_lib.attribution.outcome_budget`).
        budget_first_masks, budget_z, budget_tolerance_cells: the outcome budget's first masks per window, its
            standard errors of doubt, and how many strides a maximum may move and count as unchanged.
    """

    window_size: int = 256
    stride: int = 48
    n_masks: int = 2560
    mask_cells: int = 8
    keep_prob: float = 0.5
    mask_shift: bool = False
    mask_sharing: Literal["shared", "per_window"] = "shared"
    mask_chunk: int = 128
    min_foreground: float = 0.05
    correlation_dtype: Literal["float64", "float32"] = "float64"
    undefined_correlation: Literal["nan", "zero"] = "nan"
    reconstruction: Literal["centred", "authors"] = "centred"
    batch_size: int = 512
    mask_design: Literal["bernoulli", "antithetic", "sobol"] = "bernoulli"
    mask_budget: Literal["fixed", "outcome"] = "fixed"
    budget_first_masks: int = 256
    budget_z: float = 3.0
    budget_tolerance_cells: int = 1


@dataclass(frozen=True)
class PointingGameConfig:
    """Table 4 (§3.5, §4.4).

    Attributes:
        tolerance: pixels a box grows by on every side for a hit (paper: the stride, 48; the authors ran 32).
        correlation_above: the correlation map's maximum must exceed this for a hit (paper: 0, "a positive
            correlation"; the authors' code: 0.05). It names the column: ``correlation > 0.05``.
    """

    tolerance: int = 48
    correlation_above: float = 0.0


@dataclass(frozen=True)
class MaskSensitivityConfig:
    """Figure 7 and the adaptive mask count (§4.3; adaptive masks are beyond the paper).

    Attributes:
        mask_counts: counts compared against the reference (paper: 128–2048).
        reference_masks: the reference count (paper: 2560).
        images, windows: test images and windows sampled.
        adaptive_tolerance, adaptive_z, adaptive_min_masks: stop a window once ``adaptive_z`` standard errors
            of its correlations fit inside ``adaptive_tolerance``, never before ``adaptive_min_masks``.
        budget_images: test images with findings whose maps the mask-budget comparison computes.
        budget_region: the comparison computes the windows centred in a square of this many pixels around each
            image's first finding box (``None``: every window, the whole map); the pointing game and the maps'
            maxima are then read on that square.
        budget_reference_masks, budget_reference_seed: the comparison's reference: this many masks per window
            from a mask set of its own seed (independent of ``seed``, which seeds every compared method).
        budget_counts: the fixed mask counts compared, for the paper's masks and every mask design.
        budget_first_masks: first-pass counts of the outcome budgets compared (cap: ``budget_reference_masks``;
            ``z``, tolerance and mask design from the ``correlax`` section).
    """

    mask_counts: tuple[int, ...] = (128, 256, 512, 1024, 2048)
    reference_masks: int = 2560
    images: int = 10
    windows: int = 2000
    adaptive_tolerance: float = 0.025
    adaptive_z: float = 3.0
    adaptive_min_masks: int = 256
    budget_images: int = 16
    budget_region: int | None = None
    budget_reference_masks: int = 2560
    budget_reference_seed: int = 1
    budget_counts: tuple[int, ...] = (64, 128, 256)
    budget_first_masks: tuple[int, ...] = (64, 128)


@dataclass(frozen=True)
class BaselinesConfig:
    """The other attribution methods on the same classifier and images (chapter 08; beyond the paper).

    Attributes:
        modes: ``whole`` (the ROI downsampled to ``image_size``) and/or ``windows`` (CorRELAX's grid).
        methods_whole, methods_windows: names from :data:`corrrelax_lib.attribution.BASELINES` per mode.
        image_size: the whole ROI's longer side, pixels (the studies the paper quotes: 512).
        batch_size: inputs per forward pass.
        mask_chunk: RISE/RELAX masks per round.
        masks_whole, masks_windows: RISE/RELAX masks per mode.
    """

    modes: tuple[Literal["whole", "windows"], ...] = ("whole", "windows")
    methods_whole: tuple[str, ...] = ("Grad-CAM", "Grad-CAM++", "Eigen-CAM", "Gradient saliency", "RISE", "RELAX")
    methods_windows: tuple[str, ...] = ("Grad-CAM", "Grad-CAM++", "Eigen-CAM", "Gradient saliency", "RISE", "RELAX")
    image_size: int = 512
    batch_size: int = 64
    mask_chunk: int = 8
    masks_whole: int = 4000
    masks_windows: int = 2560


@dataclass(frozen=True)
class ExplorerConfig:
    """The neuron explorer (chapter 10; after Interactive Dissection).

    Attributes:
        image_size: the ROI's longer side when its activations are computed, pixels.
        concept_share: a neuron is a candidate for a finding's concept when it overlaps (IoU ≥ 0.2) this
            share of the finding's boxes.
    """

    image_size: int = 1024
    concept_share: float = 0.5


@dataclass(frozen=True)
class MldamConfig:
    """MLDAM's four use cases (chapter 09; Gonçalves et al.).

    Attributes:
        backbone, epochs, learning_rate: per use case (their paper: ResNet-50, 300 epochs, Adam 1e-4).
    """

    backbone: str = "resnet50"
    epochs: int = 50
    learning_rate: float = 1e-4


@dataclass(frozen=True)
class LemConfig:
    """LEM trained on image-level labels (chapter 09; the LEM paper).

    Attributes:
        backbone, weights: the network and its pretrained weights (``None``: random).
        image_size: whole ROIs are resized to ``(height, width)``, pixels.
        epochs, gap_epochs, ramp_epochs: all epochs; GAP pooling first, then a linear ramp to LEM pooling.
        batch_size, learning_rate, lr_step_epochs, lr_decay, weight_decay: the optimiser's schedule.
        sparse_weight, penalty_factor, sparsity_threshold: the sparse loss.
        hflip: random horizontal flips.
    """

    backbone: str = "resnet18"
    weights: str | None = "DEFAULT"
    image_size: tuple[int, int] = (1024, 640)
    epochs: int = 400
    gap_epochs: int = 10
    ramp_epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-4
    lr_step_epochs: int = 8
    lr_decay: float = 0.9
    weight_decay: float = 1e-4
    sparse_weight: float = 1e-3
    penalty_factor: float = 3.0
    sparsity_threshold: float = 0.1
    hflip: bool = True


@dataclass(frozen=True)
class StudyConfig:
    """Everything a profile sets: one section per stage, plus what every stage shares.

    Attributes:
        name: the profile's name (``tiny``, ``full``, ...); names the artifacts folder.
        description: one line shown in the book.
        seed: seeds data generation, crops, training, masks and sampling.
        device: ``"cpu"`` or ``"cuda"``.
    """

    name: str
    description: str = ""
    seed: int = 0
    device: str = "cuda"
    data: DataConfig = field(default_factory=DataConfig)
    preprocessing: PreprocessingConfig = field(default_factory=PreprocessingConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    model_selection: ModelSelectionConfig = field(default_factory=ModelSelectionConfig)
    correlax: CorrelaxConfig = field(default_factory=CorrelaxConfig)
    pointing_game: PointingGameConfig = field(default_factory=PointingGameConfig)
    mask_sensitivity: MaskSensitivityConfig = field(default_factory=MaskSensitivityConfig)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)
    explorer: ExplorerConfig = field(default_factory=ExplorerConfig)
    mldam: MldamConfig = field(default_factory=MldamConfig)
    lem: LemConfig = field(default_factory=LemConfig)
