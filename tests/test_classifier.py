"""The classifier adapter: real lite0 weights from a package, and every other architecture with random weights."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from torch import nn

import nlexnb

# (spec, pools exactly: mean of feature_map == features)
ARCHITECTURES = [
    ("resnet50", True),
    ("densenet121", True),
    ("vgg16", False),  # pre-logits is an MLP over the 7x7 map
    ("efficientnet_b0", True),
    ("tf_efficientnetv2_s", True),
    ("convnext_tiny", False),  # LayerNorm after pooling
    ("regnety_016", True),
    ("mobilenetv3_large_100", False),  # 1x1 conv + activation after pooling
    ("vit_base_patch16_224", False),  # class token
    ("deit_small_patch16_224", False),
    ("swin_tiny_patch4_window7_224", True),
    ("beit_base_patch16_224", False),  # fc_norm after average pooling
    ("torchvision:resnet18", True),
    ("torchvision:vit_b_16", False),
    ("torchvision:mobilenet_v3_small", False),  # the head's first linear layer and activation, at each location
    ("resnetv2_50x1_bit", True),  # a 1x1 convolution on the pooled features is the head
    ("dla34", True),
    ("sequencer2d_s", True),  # the linear layer of a classifier block
]


@pytest.mark.parametrize(("spec", "pools"), ARCHITECTURES)
def test_features_reproduce_logits_on_every_architecture(spec, pools):
    clf = nlexnb.load_classifier(spec, pretrained=False, device="cpu")
    torch.manual_seed(0)
    x = torch.randn(2, 3, 224, 224)
    out = clf.forward_all(x)
    f, logits, fmap = out["features"], out["logits"], out["feature_map"]
    assert f.shape == (2, clf.num_features)
    assert logits.shape == (2, 1000)
    torch.testing.assert_close(f @ clf.head_weight.T + clf.head_bias, logits, rtol=1e-4, atol=1e-4)
    per_location, (h, w) = clf.feature_map(x, return_grid=True)
    assert per_location.shape == (2, h * w, clf.num_features) and h * w > 1
    torch.testing.assert_close(fmap.reshape(2, h * w, -1), per_location)  # one forward pass gives the same map
    if pools:
        torch.testing.assert_close(per_location.mean(1), f, rtol=1e-4, atol=1e-4)
    assert clf.weights_source == "random"


class TinyNet(nn.Module):
    """A hand-written classifier: conv trunk, global average pool, linear head."""

    def __init__(self, num_classes: int = 3) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Conv2d(3, 8, 3, stride=4), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.trunk(x)).flatten(1))


def test_hand_written_module_with_named_head_and_feature_layer(photos):
    clf = nlexnb.load_classifier(
        TinyNet(),
        head="fc",
        feature_layer="trunk",
        class_names=["cat", "cup", "rocket"],
        device="cpu",
        transform=nlexnb.load_classifier("tf_efficientnet_lite0", pretrained=False, device="cpu").transform,
    )
    f = clf.features(photos["chelsea"])
    torch.testing.assert_close(f @ clf.head_weight.T + clf.head_bias, clf.logits(photos["chelsea"]))
    torch.testing.assert_close(clf.feature_map(photos["chelsea"]).mean(1), f, rtol=1e-5, atol=1e-5)
    (pred,) = clf.predict(photos["chelsea"], k=5)
    assert len(pred.names) == 3 and set(pred.names) == {"cat", "cup", "rocket"}


def test_a_head_edited_after_loading_is_refused_and_class_names_stay_as_loaded(photos):
    """nlexnb reads the class rows and names once: a head edited in place (a fine-tuning step, two rows swapped) or
    a renamed class would be explained with the old rows or against the old names, so both are refused."""
    small = {"head": "fc", "class_names": ["cat", "cup", "rocket"], "device": "cpu"}
    clf = nlexnb.load_classifier(TinyNet(), transform=lambda im: torch.rand(3, 16, 16), **small)
    fingerprint = clf.fingerprint
    clf.model.double().float()  # moved to another dtype and back: the same values, not an edit
    assert clf.fingerprint == fingerprint and clf.logits(photos["chelsea"]).shape == (1, 3)
    with pytest.raises(AttributeError, match="class_names is fixed when the object is built"):
        clf.class_names = ["cat", "cup", "missile"]
    with pytest.raises(TypeError):
        clf.class_names[2] = "missile"
    with torch.no_grad():
        clf.model.fc.weight[[0, 1]] = clf.model.fc.weight[[1, 0]].clone()
    for read in (lambda: clf.logits(photos["chelsea"]), lambda: clf.fingerprint):
        with pytest.raises(ValueError, match="head was changed after it was loaded .* Load it again from the edited"):
            read()
    edited = nlexnb.load_classifier(TinyNet(), transform=lambda im: torch.rand(3, 16, 16), **small)
    edited.model.fc.bias.data[2] = -100.0  # through .data: torch's write counter does not move
    with pytest.raises(ValueError, match="head was changed after it was loaded"):
        edited.predict(photos["chelsea"])
    with torch.inference_mode():  # a model built under inference_mode keeps no write count: it loads all the same
        frozen = TinyNet()
    assert nlexnb.load_classifier(frozen, transform=lambda im: torch.rand(3, 16, 16), **small).logits(
        photos["chelsea"]
    ).shape == (1, 3)


def test_a_model_that_computes_nan_is_refused_not_turned_into_predictions(photos):
    broken = TinyNet()
    with torch.no_grad():
        broken.trunk[0].weight[0, 0, 0, 0] = float("inf")  # a damaged weight: every output is NaN
    clf = nlexnb.load_classifier(
        broken, head="fc", class_names=["cat", "cup", "rocket"], transform=lambda im: torch.zeros(3, 32, 32) + 0.5
    )
    with pytest.raises(ValueError, match="TinyNet computed NaN or infinite features or logits for 2 images of a batch"):
        clf.predict([photos["chelsea"], photos["coffee"]])
    nan_head = TinyNet()
    with torch.no_grad():
        nan_head.fc.weight[0, 0] = float("nan")  # a NaN in the head: broken, not "edited after loading"
    clf = nlexnb.load_classifier(
        nan_head, head="fc", class_names=["cat", "cup", "rocket"], transform=lambda im: torch.zeros(3, 32, 32) + 0.5
    )
    with pytest.raises(ValueError, match="TinyNet computed NaN or infinite features or logits"):
        clf.predict(photos["chelsea"])


def test_module_errors_say_how_to_name_the_head():
    with pytest.raises(ValueError, match="name its final linear layer.*'fc'"):
        nlexnb.load_classifier(TinyNet(), class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="not an nn.Linear head"):
        nlexnb.load_classifier(TinyNet(), head="trunk", class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="no module named 'head'"):
        nlexnb.load_classifier(TinyNet(), head="head", class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="pass class_names"):
        nlexnb.load_classifier(TinyNet(), head="fc", transform=lambda im: torch.zeros(3, 32, 32))
    pooled_conv = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    with pytest.raises(
        ValueError, match="This model has no nn.Linear layer: nlexnb explains a classifier whose logits"
    ):
        nlexnb.load_classifier(pooled_conv, class_names=["a", "b", "c", "d"])


def test_real_lite0_weights_see_cats_in_chelsea(classifier, photos):
    assert classifier.weights_source.startswith("package:")
    (pred,) = classifier.predict(photos["chelsea"], k=5)
    cats = {"tabby, tabby cat", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat, Siamese", "lynx, catamount"}
    assert set(pred.names[:3]) <= cats
    assert sum(name in cats for name in pred.names) >= 4
    (espresso,) = classifier.predict(photos["coffee"], k=1)
    assert espresso.names == ["espresso"] and espresso.probabilities[0] > 0.9


def test_every_image_form_gives_the_same_features(classifier, photos, tmp_path):
    cat = photos["chelsea"]
    path = tmp_path / "chelsea.png"
    cat.save(path)
    as_array = np.asarray(cat)
    batch = torch.stack([classifier.transform(cat)])
    reference = classifier.features(batch)
    for form in (cat, as_array, str(path), path, [cat]):
        torch.testing.assert_close(classifier.features(form), reference, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16"])
def test_unusual_image_modes_are_converted(classifier, photos, mode):
    img = photos["coffee"].convert("L" if mode == "I;16" else mode)
    if mode == "I;16":
        img = Image.fromarray(np.asarray(img).astype(np.uint16) * 257)
    assert classifier.features(img).shape == (1, classifier.num_features)


def test_class_names_keep_synonyms_and_disambiguate_duplicates(classifier):
    names = classifier.class_names
    assert names[281] == "tabby, tabby cat"
    assert len(set(names)) == 1000
    assert names[134].startswith("crane (") and names[517].startswith("crane (") and names[134] != names[517]


def test_an_unknown_class_name_lists_each_close_class_once(classifier):
    with pytest.raises(ValueError, match="Unknown class 'binocular' for tf_efficientnet_lite0; close matches") as info:
        classifier.class_index("binocular")
    listed = str(info.value).split("close matches: ")[1]
    assert listed.count("binoculars, field glasses, opera glasses") == 1  # three synonyms of one class, named once


def test_a_class_name_as_written_wins_and_case_alone_never_decides_otherwise(classifier):
    """ "cardigan" gave the sweater while "Cardigan", the corgi's synonym as ImageNet writes it, was ambiguous; close
    matches were looked for in the case typed, so "SIBERIAN HUSKEY" had none."""
    names = classifier.class_names
    assert names[classifier.class_index("cardigan")] == "cardigan"
    assert names[classifier.class_index("Cardigan")] == "Cardigan, Cardigan Welsh corgi"
    assert names[classifier.class_index("siberian HUSKY")] == "Siberian husky"
    with pytest.raises(ValueError, match=r"'CARDIGAN' is ambiguous: \['Cardigan, Cardigan Welsh corgi', 'cardigan'\]"):
        classifier.class_index("CARDIGAN")
    with pytest.raises(ValueError, match=r"Unknown class 'SIBERIAN HUSKEY' .*close matches: \['Siberian husky'"):
        classifier.class_index("SIBERIAN HUSKEY")
    # a word that no class is, but several names say: those classes, not the spellings near it ("crate", "oxcart")
    cats = r"Unknown class 'cat' .*the classes whose names say it: \['tabby, tabby cat', 'tiger cat', 'Persian cat'"
    with pytest.raises(ValueError, match=cats):
        classifier.class_index("cat")
    with pytest.raises(ValueError, match=r"'dog' .*say it: \['Maltese dog.*\.\.\. \d+ more'\]"):
        classifier.class_index("dog")


def test_unknown_model_name_suggests_close_matches():
    with pytest.raises(ValueError, match="Unknown model name 'resnet5O'.*resnet50"):
        nlexnb.load_classifier("resnet5O")
    with pytest.raises(ValueError, match="'vit_b_16' is a torchvision model: use 'torchvision:vit_b_16'"):
        nlexnb.load_classifier("vit_b_16")
    with pytest.raises(ValueError, match="Unknown torchvision model 'resnet17'"):
        nlexnb.load_classifier("torchvision:resnet17")


def test_pretrained_without_reachable_weights_is_an_error_not_a_random_model():
    # HF_HUB_OFFLINE=1 (conftest): the real hub loading code runs up to the download and must fail loudly.
    with pytest.raises(RuntimeError, match="Could not load pretrained weights for 'resnet18'") as refused:
        nlexnb.load_classifier("resnet18", pretrained=True)
    assert ".." not in str(refused.value)  # the hub's own sentence is quoted inside ours, one full stop


def test_local_checkpoint_round_trip(tmp_path):
    import timm
    from safetensors.torch import save_file

    model = timm.create_model("resnet18", pretrained=False)
    save_file(model.state_dict(), tmp_path / "r18.safetensors")
    torch.save(model.state_dict(), tmp_path / "r18.pth")
    for name in ("r18.safetensors", "r18.pth"):
        clf = nlexnb.load_classifier("resnet18", weights=tmp_path / name, device="cpu")
        torch.testing.assert_close(clf.head_weight, model.fc.weight.detach())
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        nlexnb.load_classifier("resnet18", weights=tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="does not match 'resnet34'"):
        nlexnb.load_classifier("resnet34", weights=tmp_path / "r18.safetensors")


def test_corrupt_image_error_names_the_file(classifier, tmp_path, photos):
    bad = tmp_path / "truncated.jpg"
    photos["coffee"].save(tmp_path / "ok.jpg")
    bad.write_bytes((tmp_path / "ok.jpg").read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated.jpg"):
        classifier.features(bad)
    with pytest.raises(FileNotFoundError, match="nope.png"):
        classifier.features(tmp_path / "nope.png")
    with pytest.raises(TypeError, match="Expected a PIL image"):
        classifier.features([42])


def test_a_feature_layer_that_is_not_what_the_head_pools_is_named_once(photos):
    """ "layer4.0" of a ResNet has the head's width, but its average is not the head's input: every heat map came from
    it without a word."""
    import warnings

    import torchvision

    model = torchvision.models.resnet18(weights=None)  # no zero-initialised blocks: layer4.1 changes its input
    options = dict(head="fc", transform=nlexnb.load_classifier("torchvision:resnet18", pretrained=False).transform)
    with pytest.warns(UserWarning, match="The average of feature layer 'layer4.0' is not ResNet's head input"):
        nlexnb.load_classifier(model, feature_layer="layer4.0", **options).feature_map(photos["chelsea"])
    right = nlexnb.load_classifier(model, feature_layer="layer4", **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert right.feature_map(photos["chelsea"]).mean(1).sub(right.features(photos["chelsea"])).abs().max() < 1e-4
    # tokens too: a middle block of a ViT has the head's width, and is not what the head reads
    vit = timm.create_model("vit_small_patch16_224", pretrained=False, global_pool="avg").eval()
    vit_options = dict(head="head", transform=options["transform"])
    middle = "Neither the average nor the first token of feature layer 'blocks.5' is VisionTransformer's head input"
    with pytest.warns(UserWarning, match=middle):
        nlexnb.load_classifier(vit, feature_layer="blocks.5", **vit_options).feature_map(photos["chelsea"])
    for pool in ("avg", "token"):  # the final norm's tokens, pooled by their mean or their class token: no warning
        vit = timm.create_model("vit_small_patch16_224", pretrained=False, global_pool=pool, fc_norm=False).eval()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            nlexnb.load_classifier(vit, feature_layer="norm", **vit_options).feature_map(photos["chelsea"])


def test_a_timm_model_whose_logits_are_more_than_its_classifier_is_refused():
    """VOLO's forward_head adds an auxiliary head's maximum to the classifier's output: every explanation would have
    described W f + b, which differs from its logits by up to 0.7."""
    volo = nlexnb.load_classifier("volo_d1_224", pretrained=False, device="cpu")
    with pytest.raises(ValueError, match="volo_d1_224's logits are not its classifier's linear layer applied to its"):
        volo.logits(torch.randn(1, 3, 224, 224))


class TinyViT(nn.Module):
    """Patch tokens of a 32 x 64 image (a 4 x 8 grid) after a class token; the head reads the patch tokens' mean."""

    def __init__(self) -> None:
        super().__init__()
        self.patches = nn.Conv2d(3, 8, 8, 8)
        self.cls = nn.Parameter(torch.zeros(1, 1, 8))
        self.enc = nn.Identity()
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        tokens = self.patches(x).flatten(2).transpose(1, 2)
        tokens = self.enc(torch.cat([self.cls.expand(len(x), -1, -1), tokens], 1))
        return self.head(tokens[:, 1:].mean(1))


def test_tokens_that_are_no_square_grid_are_refused_or_arranged_by_the_user(photos):
    """33 tokens were cut to their last 25 and laid out 5 x 5: heat maps of a 4 x 8 grid, wrong without a word."""
    import torchvision.transforms as T

    options = dict(head="head", feature_layer="enc", class_names=list("abc"), device="cpu")
    transform = T.Compose([T.Resize((32, 64)), T.ToTensor()])
    clf = nlexnb.load_classifier(TinyViT(), transform=transform, **options)
    with pytest.raises(ValueError, match="gives 33 tokens, which are not a square grid .* pass feature_post="):
        clf.feature_map(photos["chelsea"])
    arranged = nlexnb.load_classifier(
        TinyViT(), transform=transform, feature_post=lambda t: t[:, 1:].reshape(len(t), 4, 8, -1), **options
    )
    per_location, grid = arranged.feature_map(photos["chelsea"], return_grid=True)
    assert grid == (4, 8) and per_location.mean(1).sub(arranged.features(photos["chelsea"])).abs().max() < 1e-5


def test_a_model_loaded_by_name_is_not_warned_about_a_feature_layer_the_user_never_chose():
    """torchvision's ConvNeXt normalises each location before pooling, so its map's mean is not its head input; the
    warning asked for another feature layer, which a model loaded by name gives no way to name."""
    import warnings

    convnext = nlexnb.load_classifier("torchvision:convnext_tiny", pretrained=False, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert convnext.feature_map(torch.randn(1, 3, 224, 224)).shape == (1, 49, 768)


def test_a_timm_model_whose_features_are_several_maps_says_what_it_cannot_do():
    """CoaT's forward_features gives one tensor per branch: asking for its map failed on 'list' has no 'ndim'."""
    coat = nlexnb.load_classifier("coat_tiny", pretrained=False, device="cpu")
    x = torch.randn(1, 3, 224, 224)
    assert coat.logits(x).shape == (1, 1000)  # what needs no map works
    with pytest.raises(ValueError, match="coat_tiny's forward_features returns a list of 3 outputs, not one feature"):
        coat.feature_map(x)


def test_a_model_that_gives_no_map_is_explained_without_heat_maps(classifier, mapper, photos):
    """VGG's head reads a flattened 7 x 7 grid through two more layers, and PiT's forward_features its class token
    alone: no map can be placed. Explanations failed for them even with heatmaps=False; PiT drew 1 x 1 "heat maps"."""
    vgg = nlexnb.load_classifier("torchvision:vgg11", pretrained=False, device="cpu")
    with pytest.raises(nlexnb.NoFeatureMap, match="explain\\(image, heatmaps=False\\)"):
        vgg.forward_all(photos["chelsea"])
    assert vgg.forward_all(photos["chelsea"], maps=False).feature_map is None
    pit = nlexnb.load_classifier("pit_ti_224", pretrained=False, device="cpu")
    with pytest.raises(nlexnb.classifier.NoFeatureMap, match="returns 1 token\\(s\\) and no patch tokens"):
        pit.feature_map(photos["chelsea"])
    # without heat maps, an explanation names the same concepts, as faithfully
    explainer = nlexnb.Explainer(classifier, mapper)
    plain = explainer.explain(photos["chelsea"], heatmaps=False)
    assert plain.heatmaps == [] and abs(plain.total - plain.measured) < 1e-4
    assert list(plain.concepts["concept"]) == list(explainer.explain(photos["chelsea"]).concepts["concept"])


def test_heads_that_are_not_one_linear_layer_are_refused_with_the_reason(photos):
    """A head-is-last check against 1 + |logits| passed a random distilled LeViT (logits of 1e-4, off by 100%); a
    caformer's MLP head failed in torch's words; distilled models said nothing of what would work."""
    levit = timm.create_model("levit_128", pretrained=False).eval()
    transform = nlexnb.load_classifier("resnet18", pretrained=False).transform
    wrapped = nlexnb.load_classifier(levit, head="head.linear", transform=transform, device="cpu")
    with pytest.raises(ValueError, match="no second head averaged in"):
        wrapped.logits(photos["chelsea"])
    with pytest.raises(ValueError, match="Use the architecture without distillation \\(e.g. 'deit_small_patch16_224'"):
        nlexnb.load_classifier("deit_small_distilled_patch16_224", pretrained=False)
    caformer = nlexnb.load_classifier("caformer_s18", pretrained=False, device="cpu")
    with pytest.raises(ValueError, match="pre-logits features have 512 values, the head's rows 2048"):
        caformer.logits(photos["chelsea"])
    with pytest.raises(ValueError, match="'squeezenet1_0' \\(SqueezeNet\\) has no linear layer"):
        nlexnb.load_classifier("torchvision:squeezenet1_0", pretrained=False)


class _Outputs(nn.Module):
    """TinyNet's trunk with the logits returned another way: a dict, (features, logits), or a head at every place."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how, self.trunk, self.head = how, TinyNet().trunk, nn.Linear(16, 3)

    def forward(self, x):
        m = self.trunk(x)
        if self.how == "per place":
            return self.head(m.permute(0, 2, 3, 1)).mean((1, 2))
        pooled = m.mean((2, 3))
        return {"logits": self.head(pooled)} if self.how == "dict" else (pooled, self.head(pooled))


@pytest.mark.parametrize(
    ("how", "error"),
    [
        ("dict", "returns a dict \\(\\['logits'\\]\\), not a logits tensor"),
        ("tuple", "it returns a tuple: its first element was taken as the logits"),
        ("per place", "reads an input of shape \\(1, 7, 7, 16\\), not one feature vector per image"),
    ],
)
def test_a_module_whose_output_is_not_plain_logits_is_named(photos, how, error):
    clf = nlexnb.load_classifier(
        _Outputs(how), head="head", class_names=list("abc"), transform=lambda im: torch.zeros(3, 64, 64) + 0.5
    )
    with pytest.raises((TypeError, ValueError), match=error):
        clf.logits(photos["chelsea"])


def test_a_model_put_back_in_training_mode_or_half_precision_is_refused(photos):
    """Dropout gave other features at each call (3.4 apart) without a word; a model moved to bfloat16 after loading
    read as "its head was edited in place", and a bfloat16 module failed in torch's words."""
    net = TinyNet()
    options = dict(head="fc", class_names=list("abc"), transform=lambda im: torch.zeros(3, 64, 64) + 0.5)
    clf = nlexnb.load_classifier(net, **options)
    net.train()
    with pytest.raises(ValueError, match="TinyNet is in training mode .* call clf.model.eval\\(\\) first"):
        clf.features(photos["chelsea"])
    net.eval().to(torch.bfloat16)
    with pytest.raises(ValueError, match="TinyNet was moved to torch.bfloat16 after it was loaded"):
        clf.features(photos["chelsea"])
    net.float()  # moved back, its weights rounded: not the model loaded, so refused all the same
    with pytest.raises(ValueError, match="head was changed after it was loaded"):
        clf.features(photos["chelsea"])
    net.to(torch.bfloat16)
    with pytest.raises(ValueError, match="The module's parameters are torch.bfloat16 .* Pass model.float\\(\\)"):
        nlexnb.load_classifier(net, **options)


def test_a_head_of_one_logit_is_refused_and_its_two_logit_form_gives_the_sigmoid(photos):
    """A binary classifier's single logit (read through a sigmoid) was given p 1.000 for every image by a softmax."""
    torch.manual_seed(0)
    binary = TinyNet(num_classes=1)
    image = lambda im: torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))  # noqa: E731
    with pytest.raises(ValueError, match=r"TinyNet's head has 1 output: .*Give a head of 2 logits, one per class"):
        nlexnb.load_classifier(binary, head="fc", class_names=["pos"], transform=image)
    with pytest.raises(ValueError, match="TinyNet's head has 1 output"):  # before asking for names
        nlexnb.load_classifier(binary, head="fc", transform=image)
    two = TinyNet(num_classes=2)
    two.trunk.load_state_dict(binary.trunk.state_dict())
    with torch.no_grad():  # rows [-w/2, w/2], biases [-b/2, b/2], as the message says
        two.fc.weight.copy_(torch.cat([-binary.fc.weight / 2, binary.fc.weight / 2]))
        two.fc.bias.copy_(torch.cat([-binary.fc.bias / 2, binary.fc.bias / 2]))
    clf = nlexnb.load_classifier(two, head="fc", class_names=["neg", "pos"], transform=image)
    (prediction,) = clf.predict(photos["chelsea"], k=2)
    with torch.no_grad():
        sigmoid = float(torch.sigmoid(binary.eval()(image(None)[None]))[0, 0])
    assert dict(zip(prediction.names, prediction.probabilities))["pos"] == pytest.approx(sigmoid, abs=1e-6)


def test_a_batch_norm_without_running_statistics_is_refused():
    """Such a batch norm normalises by the batch even in eval mode: an image's logits changed with its batch-mates."""
    net = TinyNet()
    net.trunk[1] = nn.BatchNorm2d(8, track_running_stats=False)
    clf = nlexnb.load_classifier(net, head="fc", class_names=list("abc"), transform=lambda im: torch.rand(3, 64, 64))
    x = torch.rand(4, 3, 64, 64)
    assert not torch.allclose(net(x)[:1], net(x[:1]))  # what it would have explained: the batch decides
    with pytest.raises(ValueError, match=r"TinyNet's batch norm 'trunk.1' keeps no running statistics .*other images"):
        clf.logits(x)
    net.trunk[1] = nn.BatchNorm2d(8).eval()  # running statistics: one image's logits are its own
    torch.testing.assert_close(clf.logits(x)[:1], clf.logits(x[:1]))
    instance = TinyNet()
    instance.trunk[1] = nn.InstanceNorm2d(8)  # per image: no batch statistics, accepted
    small = nlexnb.load_classifier(instance, head="fc", class_names=list("abc"), transform=lambda im: im)
    torch.testing.assert_close(small.logits(x)[:1], small.logits(x[:1]))


def test_part_of_a_model_moved_to_half_precision_is_named(photos):
    """clf.model.trunk[0].half() failed in torch's words: "Input type (float) and bias type (c10::Half) should be the
    same"."""
    net = TinyNet()
    clf = nlexnb.load_classifier(net, head="fc", class_names=list("abc"), transform=lambda im: torch.zeros(3, 64, 64))
    net.trunk[0].half()
    with pytest.raises(
        ValueError, match=r"TinyNet's weights 'trunk.0.weight', 'trunk.0.bias' are torch.float16 .* clf.model.float\(\)"
    ):
        clf.features(photos["chelsea"])
    net.float()  # its head untouched: it runs again, with the trunk's rounded weights
    assert clf.logits(photos["chelsea"]).shape == (1, 3)


def test_the_head_checks_the_features_it_is_given():
    """Another width failed in torch's words; integer features cast the head's rows to integers (wrong logits)."""
    clf = nlexnb.load_classifier(TinyNet(), head="fc", class_names=list("abc"), transform=lambda im: im)
    f = torch.rand(2, 16)
    torch.testing.assert_close(clf.head(f), f @ clf.head_weight.T + clf.head_bias)
    assert clf.head(f[0]).shape == (3,) and clf.head(f.double()).dtype == torch.float64  # one vector; float64 ablations
    for bad, got in (
        (torch.ones(2, 16, dtype=torch.long), r"int64 \[2, 16\]"),
        (torch.ones(1, 9), r"float32 \[1, 9\]"),
    ):
        with pytest.raises(ValueError, match=rf"features must be a floating-point tensor \[N, 16\] .*got {got}"):
            clf.head(bad)
    with pytest.raises(TypeError, match="features must be a tensor"):
        clf.head([0.0] * 16)


def test_a_checkpoint_of_another_number_of_classes_says_how_to_load_it(tmp_path, photos):
    """By name only the default 1000-class head is built: the error said "another number of classes?" and stopped."""
    ten = timm.create_model("resnet18", num_classes=10)
    torch.save(ten.state_dict(), tmp_path / "ten.pth")
    names = [f"class {i}" for i in range(10)]
    with pytest.raises(
        ValueError,
        match=r"its head 'fc' has 10 classes, the model's 1000 .*builds 'resnet18' with its "
        r"default head of 1000 classes only.*timm.create_model\('resnet18', num_classes=10\).*"
        r"load_classifier\(model, head='fc'",
    ):
        nlexnb.load_classifier("resnet18", weights=tmp_path / "ten.pth", class_names=names)
    with pytest.raises(ValueError, match=r"torchvision.models.get_model\('resnet18', num_classes=10\)"):
        nlexnb.load_classifier("torchvision:resnet18", weights=tmp_path / "ten.pth", class_names=names)
    # what it says to do
    model = timm.create_model("resnet18", num_classes=10)
    model.load_state_dict(torch.load(tmp_path / "ten.pth", weights_only=True))
    clf = nlexnb.load_classifier(model, head="fc", class_names=names, transform=lambda im: torch.rand(3, 64, 64))
    assert clf.num_classes == 10 and len(clf.predict(photos["chelsea"])[0].names) == 5


def test_a_training_checkpoint_with_its_weights_under_model_is_unwrapped(tmp_path):
    """{"model": state_dict, "epoch": 3} failed with 102 missing keys and the unexpected keys ['model', 'epoch']; timm's
    own loader reads the weights under "state_dict" or "model", and so does load_classifier."""
    model = timm.create_model("resnet18", pretrained=False)
    torch.save({"model": model.state_dict(), "epoch": 3}, tmp_path / "training.pth")
    clf = nlexnb.load_classifier("resnet18", weights=tmp_path / "training.pth", device="cpu")
    torch.testing.assert_close(clf.head_weight, model.fc.weight.detach())
    torch.save({"model": "resnet18", "epoch": 3}, tmp_path / "no_weights.pth")  # "model" names it, holds no weights
    with pytest.raises(ValueError, match=r"does not match 'resnet18': 102 missing keys .*unexpected keys"):
        nlexnb.load_classifier("resnet18", weights=tmp_path / "no_weights.pth")


def test_a_class_name_of_punctuation_only_is_refused_with_its_index_when_the_classifier_is_loaded():
    """ "?" loaded, was fitted on as "a photo of a ?." and failed later inside zero-shot under another index; names
    with words and punctuation around them load as they are."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    with pytest.raises(ValueError, match=r"class_names\[2\] '\?' has no words to map \(it is punctuation only\)"):
        nlexnb.load_classifier(model, head="1", class_names=["cat", "dog", "?"], transform=lambda im: im)
    loaded = nlexnb.load_classifier(model, head="1", class_names=["cat?", "dog!", "t-shirt"], transform=lambda im: im)
    assert loaded.class_names == ("cat?", "dog!", "t-shirt")


def test_an_index_typed_as_text_is_told_to_be_passed_as_an_int(classifier):
    """A text box gives "967": no class has that name, and the message says what to pass instead."""
    with pytest.raises(
        ValueError, match=r"Unknown class '967' .*: no class has that name; pass the index as an int: 967"
    ):
        classifier.class_index("967")
    with pytest.raises(ValueError, match=r"Unknown class '-1' .*; class indices are ints 0\.\.999"):
        classifier.class_index("-1")
    assert classifier.class_index(967) == classifier.class_index("espresso")
